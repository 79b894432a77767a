"""Planner statistics: after a bulk load the database must be told what its tables hold.

Without them (SQLite's `sqlite_stat1` empty, PostgreSQL not yet auto-analyzed) the planner
guesses, and the search indexer's contact-name query walked every contact per batch: a rebuild
of 120,000 records took 845 s instead of a few minutes. `analyze()` runs after `crm seed`;
`ensure()` runs before a reindex and analyzes only when there are no statistics at all.
"""

from __future__ import annotations

from sqlalchemy import text

from crm.extensions import db


def analyze() -> None:
    """Gather statistics for every table (ANALYZE); commits."""
    db.session.commit()  # nothing of the caller's left in the transaction
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def present() -> bool:
    """True when the database holds planner statistics for its tables."""
    backend = db.engine.url.get_backend_name()
    if backend == "sqlite":
        table = db.session.scalar(
            text("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
        )
        return bool(table) and bool(db.session.scalar(text("SELECT 1 FROM sqlite_stat1 LIMIT 1")))
    if backend == "postgresql":
        return bool(
            db.session.scalar(
                text("SELECT 1 FROM pg_stats WHERE schemaname = current_schema() LIMIT 1")
            )
        )
    return True  # another database: leave it to its own maintenance


def ensure() -> None:
    """ANALYZE when there are no statistics yet (a fresh or freshly seeded database)."""
    if not present():
        analyze()
