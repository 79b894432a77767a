"""The embedded mode's rate-limit store: `limits`' in-memory storage, minus a thread per request.

`limits.storage.MemoryStorage` drops expired counters on a 10 ms `threading.Timer` that it
starts again on the next hit once the last one has run, so under steady traffic nearly every
limited request starts an OS thread and waits for it to boot — measured as most of a web-form
post's time on the loaded 2-core machine (bench/leads_bench.py). Expiry does not depend on that
timer (`get()` drops a stale counter itself); the timer only frees memory. This subclass frees
memory from one long-lived daemon thread every few seconds instead. Selected by
`RATELIMIT_STORAGE_URI = "rapport-memory://"`, the default when there is no REDIS_URL.
"""

from __future__ import annotations

import threading

from limits.storage import MemoryStorage

CLEAN_EVERY_SECONDS = 5.0


class EmbeddedMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["rapport-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self._cleaner: threading.Thread | None = None
        self._cleaner_lock = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - overrides the private hook
        if self._cleaner is not None:
            return
        with self._cleaner_lock:
            if self._cleaner is None:
                self._cleaner = threading.Thread(
                    target=self._clean, name="rate-limit-cleaner", daemon=True
                )
                self._cleaner.start()

    def _clean(self) -> None:
        stop = threading.Event()
        while not stop.wait(CLEAN_EVERY_SECONDS):
            self._MemoryStorage__expire_events()
