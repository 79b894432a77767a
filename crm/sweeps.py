"""Sweeps select due work from the database and enqueue it.

The embedded scheduler tick and the scaled worker both call run_sweeps() every minute and at
start-up, so a lost queue, a crash or a restart loses nothing. Features register their sweep
with @sweep; each must be idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from crm.extensions import db

log = logging.getLogger(__name__)
SWEEPS: list[Callable[[], object]] = []


def sweep(func: Callable[[], object]) -> Callable[[], object]:
    SWEEPS.append(func)
    return func


def run_sweeps() -> dict[str, object]:
    results = {}
    for func in SWEEPS:
        name = f"{func.__module__}.{func.__name__}"
        try:
            results[name] = func()
        except Exception:  # one broken sweep must not stop the others
            db.session.rollback()
            log.exception("sweep %s failed", name)
            results[name] = "error"
    return results


def _register_builtin() -> None:
    from crm import outbox

    sweep(outbox.sweep)


_register_builtin()
