"""RQ wiring: a real Redis when REDIS_URL is set, an in-process stand-in otherwise.

Jobs are enqueued by dotted name with ids only, after the caller has committed. The worker
runs each job inside a fresh app context, so job functions never build the app themselves.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import fakeredis
from flask import Flask, current_app
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

log = logging.getLogger(__name__)

QUEUES = ("default", "search")


def init_app(app: Flask) -> None:
    if url := app.config.get("REDIS_URL"):
        connection = Redis.from_url(url)
    else:
        # One in-memory server per app: the web threads and the worker thread share it.
        connection = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    app.extensions["rq_connection"] = connection


def connection(app: Flask | None = None) -> Redis:
    return (app or current_app).extensions["rq_connection"]


def queue(name: str = "default", app: Flask | None = None) -> Queue:
    app = app or current_app
    return Queue(name, connection=connection(app), is_async=not app.config.get("JOBS_SYNC"))


def enqueue(
    func: str,
    *args,
    queue_name: str = "default",
    at: datetime | None = None,
    job_id: str | None = None,
    **kwargs,
) -> Job:
    """Enqueue `func` (a dotted name under jobs/) with plain arguments, now or at `at`."""
    q = queue(queue_name)
    if at is not None and q.is_async:
        return q.enqueue_at(at, func, *args, job_id=job_id, **kwargs)
    return q.enqueue(func, *args, job_id=job_id, **kwargs)


def enqueue_many(func: str, calls, queue_name: str = "default") -> int:
    """Enqueue `func` once per (args tuple, job id) in `calls`, in one Redis round trip (a
    pipeline) instead of one per job: what a batch that made many rows hands to the worker."""
    q = queue(queue_name)
    seen: dict[str | None, tuple] = {}
    for args, job_id in calls:
        seen.setdefault(job_id if job_id is not None else f"#{len(seen)}", (tuple(args), job_id))
    if not seen:
        return 0
    if not q.is_async:  # tests and JOBS_SYNC: run each now, as enqueue() would
        for args, job_id in seen.values():
            q.enqueue(func, *args, job_id=job_id)
        return len(seen)
    q.enqueue_many([Queue.prepare_data(func, args=a, job_id=j) for a, j in seen.values()])
    return len(seen)


def enqueue_once(func: str, flag: str, ttl: int = 60) -> None:
    """Make sure one drain job (`func`, no arguments: it takes every waiting row) is queued,
    however many rows arrive: a burst of 1,000 posts enqueues one job, not 1,000.

    The job calls `drain_started(flag)` before it claims anything, so rows committed after
    that wake another job and none is left without one; the flag expires after `ttl` seconds
    in case a queued job was lost (the feature's sweep also re-enqueues what waits).
    """
    conn = connection()
    if not conn.set(flag, 1, nx=True, ex=ttl):
        return
    try:
        enqueue(func)
    except Exception:
        conn.delete(flag)
        raise


def drain_started(flag: str) -> None:
    connection().delete(flag)


class AppWorker(SimpleWorker):
    """A SimpleWorker that runs each job in its own app context (fresh DB session)."""

    death_penalty_class = TimerDeathPenalty

    def __init__(self, *args, app: Flask, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app

    def perform_job(self, *args, **kwargs):
        with self.app.app_context():
            return super().perform_job(*args, **kwargs)


class ThreadWorker(AppWorker):
    """The embedded worker: a thread cannot install signal handlers, so it skips them."""

    def _install_signal_handlers(self):
        pass


def make_worker(app: Flask, cls=AppWorker) -> AppWorker:
    conn = connection(app)
    queues = [Queue(name, connection=conn) for name in QUEUES]
    return cls(queues, connection=conn, app=app)


def run_pending(app: Flask) -> int:
    """Move due scheduled jobs to their queues, then work every queued job (tests, embedded)."""
    conn = connection(app)
    queues = [Queue(name, connection=conn) for name in QUEUES]
    RQScheduler(queues, connection=conn).enqueue_scheduled_jobs()
    before = sum(len(q) for q in queues)
    if before:
        make_worker(app, ThreadWorker).work(burst=True, logging_level="WARNING")
    return before


class EmbeddedRunner:
    """The worker thread and the scheduler tick of `crm serve`, stopped with stop()."""

    def __init__(self, app: Flask, poll_seconds: float = 0.5, tick_seconds: float = 60.0):
        self.app = app
        self.poll_seconds = poll_seconds
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for target, name in ((self._work, "rq-worker"), (self._tick, "scheduler-tick")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                run_pending(self.app)
            except Exception:  # keep the loop alive; the job's own failure is in RQ's registry
                log.exception("embedded worker loop failed")
            self._stop.wait(self.poll_seconds)

    def _tick(self) -> None:
        from crm.sweeps import run_sweeps

        while not self._stop.is_set():
            try:
                with self.app.app_context():
                    run_sweeps()
            except Exception:
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick_seconds)
