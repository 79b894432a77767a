"""Sweeps select due work from the database and enqueue it.

The embedded scheduler tick and the scaled worker both call run_sweeps() every minute and at
start-up, so a lost queue, a crash or a restart loses nothing. The sweeps are the ones the
features declare (crm/features.py); each must be idempotent.
"""

from __future__ import annotations

import logging

from crm.extensions import db
from crm.kernel import features

log = logging.getLogger(__name__)


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
