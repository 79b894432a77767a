"""Sweeps select due work from the database and enqueue it.

The embedded scheduler tick and the scaled worker both call run_sweeps() every minute and at
start-up, so a lost queue, a crash or a restart loses nothing. The sweeps are the ones the
features declare (crm/features.py); each must be idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from crm.extensions import db
from crm.kernel import features

log = logging.getLogger(__name__)


def sweep(func: Callable[[], object]) -> Callable[[], object]:
    """Marks a sweep for readers; it runs only once a Feature declares it (crm/features.py).

    Kept for the two modules still being split (imports, inbound); it registers nothing.
    """
    return func


def run_sweeps() -> dict[str, object]:
    results = {}
    for func in features.sweeps():
        name = f"{func.__module__}.{func.__name__}"
        try:
            results[name] = func()
        except Exception:  # one broken sweep must not stop the others
            db.session.rollback()
            log.exception("sweep %s failed", name)
            results[name] = "error"
    return results
