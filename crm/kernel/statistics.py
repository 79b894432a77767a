"""Planner statistics: the database must be told what its tables hold, and told again as they grow.

Without them (SQLite's `sqlite_stat1` empty, PostgreSQL not yet auto-analyzed) the planner
guesses. The queries that matter are written to be fast without statistics too (e.g. the
search indexer reads by primary key), but every other plan is only as good as these numbers.

- `analyze()`: every table, in full. After a bulk load (`crm seed`, a large import).
- `optimize()`: only what is missing or stale. After migrations (`crm serve` upgrades at
  start-up: a new index has no statistics yet), before a search rebuild, and once a day
  (`sweep()`, declared in crm/features.py).

On SQLite "stale" is judged like PostgreSQL's autovacuum does: a table whose row count moved
by more than 10 % (and 1,000 rows) since it was analyzed. PostgreSQL's autovacuum keeps its
own statistics; here it only gets an ANALYZE when it has none at all.

ANALYZE runs table by table, each in its own short transaction: on SQLite it holds the write
lock while it reads the table, and other processes wait at most `busy_timeout` for it.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import text

from crm.extensions import db

log = logging.getLogger(__name__)

DAY_S = 24 * 3600
_STALE_SHARE = 0.10
_STALE_ROWS = 1000
_last_sweep: dict[str, float] = {}  # per database URL: when this process last checked


def analyze(tables: list[str] | None = None) -> None:
    """Gather statistics for these tables (default: all) with ANALYZE; commits."""
    db.session.commit()  # nothing of the caller's left in the transaction
    if tables is None:
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return
    for table in tables:
        started = time.perf_counter()
        db.session.execute(text(f'ANALYZE "{table}"'))
        db.session.commit()
        log.info("analyzed %s in %.1f s", table, time.perf_counter() - started)


def present() -> bool:
    """True when the database holds planner statistics for its tables."""
    backend = db.engine.url.get_backend_name()
    if backend == "sqlite":
        if not _sqlite_stat_table():
            return False
        return bool(db.session.scalar(text("SELECT 1 FROM sqlite_stat1 LIMIT 1")))
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


def stale_tables() -> list[str]:
    """Tables whose statistics are missing or out of date (SQLite; [] elsewhere)."""
    if db.engine.url.get_backend_name() != "sqlite":
        return []
    tables = db.session.scalars(
        text(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version' ORDER BY name"
        )
    ).all()
    known: dict[str, int] = {}
    indexed: set[tuple[str, str]] = set()
    if _sqlite_stat_table():
        for table, index, stat in db.session.execute(
            text("SELECT tbl, idx, stat FROM sqlite_stat1")
        ):
            known[table] = int(str(stat).split()[0])
            indexed.add((table, index))
    stale = []
    for table in tables:
        indexes = db.session.scalars(
            text(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
                "AND sql IS NOT NULL"
            ),
            {"t": table},
        ).all()
        rows = db.session.scalar(text(f'SELECT count(*) FROM "{table}"'))
        if not rows:
            continue  # an empty table gets no statistics however often it is analyzed
        if table not in known or any((table, name) not in indexed for name in indexes):
            stale.append(table)  # never analyzed, or an index a migration just added
            continue
        if abs(rows - known[table]) > max(_STALE_ROWS, _STALE_SHARE * known[table]):
            stale.append(table)
    return stale


def optimize() -> list[str]:
    """Analyze what is missing or stale; returns the tables analyzed. Commits."""
    db.session.commit()
    backend = db.engine.url.get_backend_name()
    if backend == "postgresql":
        if present():
            return []  # autovacuum keeps them
        analyze()
        return ["*"]
    if backend != "sqlite":
        return []
    tables = stale_tables()
    if tables:
        analyze(tables)
    db.session.execute(text("PRAGMA optimize"))
    db.session.commit()
    return tables


def sweep() -> list[str] | str:
    """The daily check (a sweep runs every minute; this acts once a day per process)."""
    key = str(db.engine.url)
    now = time.monotonic()
    if key in _last_sweep and now - _last_sweep[key] < DAY_S:
        return "checked today"
    _last_sweep[key] = now
    return optimize()


def _sqlite_stat_table() -> bool:
    return bool(
        db.session.scalar(
            text("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
        )
    )
