"""Search index updates: the `search` queue has a single worker, the index's one writer."""

from crm.search import services

# Jobs still waiting when one starts are folded into it: a burst of writes (email-in batches,
# an import) then costs one Whoosh commit instead of one per job.
FOLD_AT_MOST = 50


def index_changes(items: list) -> int:
    """Items are [team_id, source, id] (source: contact, company, deal, task, activity)."""
    folded = _take_waiting()
    try:
        return services.index_changes([tuple(item) for item in [*items, *folded]])
    except Exception:
        if folded:  # RQ retries this job with its own items only: hand the others back
            _requeue(folded)
        raise


def _take_waiting() -> list:
    from crm.queue import queue

    waiting = queue(services.QUEUE)
    if not waiting.is_async:
        return []
    taken: list = []
    for job_id in waiting.get_job_ids(0, FOLD_AT_MOST):
        job = waiting.fetch_job(job_id)
        if job is None or job.func_name != "jobs.search.index_changes" or not job.args:
            continue
        if waiting.remove(job_id):  # LREM: only one worker takes a job
            taken.extend(job.args[0])
            job.delete()
    return taken


def _requeue(items: list) -> None:
    from rq import Retry

    from crm.queue import enqueue

    enqueue(
        "jobs.search.index_changes",
        items,
        queue_name=services.QUEUE,
        retry=Retry(max=3, interval=[5, 30, 120]),
    )
