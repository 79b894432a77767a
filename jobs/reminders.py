"""The minute tick of the scaled mode, run by RQ's own scheduler.

`flask crm worker` starts RQ workers with the scheduler (one of them holds RQ's scheduler lock
and moves due jobs). tick() first schedules the next minute's tick, then runs the same sweeps as
the embedded scheduler. The job id is the minute it is due, so any number of workers and
restarts seeding the chain converge on one tick per minute.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crm import queue
from crm.models import utcnow


def tick_job_id(at: datetime) -> str:
    return f"crm-sweeps-{at:%Y%m%d%H%M}"


def schedule_next_tick(now: datetime | None = None) -> str:
    """Schedule the tick of the next whole minute (idempotent: a minute has one job id)."""
    now = now or utcnow()
    at = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    job_id = tick_job_id(at)
    queue.enqueue("jobs.reminders.tick", at=at, job_id=job_id, result_ttl=300)
    return job_id


def tick() -> dict[str, object]:
    from crm.sweeps import run_sweeps

    schedule_next_tick()  # first, so a failing sweep cannot break the chain
    return run_sweeps()
