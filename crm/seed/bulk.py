"""Bulk INSERTs for synthetic data: rows in batches, ids assigned by the caller, written straight
to the driver on SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC

from sqlalchemy import JSON, Boolean, Date, func, insert, select

from crm.extensions import db
from crm.models import UTCDateTime

BATCH = 5000


def batches(rows: Iterator[dict], size: int = BATCH) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _converter(column_type):
    """How a value goes to sqlite3 as SQLAlchemy would have stored it."""
    if isinstance(column_type, UTCDateTime):
        return lambda v: v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if v else None
    if isinstance(column_type, JSON):
        return lambda v: json.dumps(v) if v is not None else None
    if isinstance(column_type, Date):
        return lambda v: v.isoformat() if v else None
    if isinstance(column_type, Boolean):
        return lambda v: None if v is None else int(v)
    return None


def insert_rows(target, batch: list[dict]) -> None:
    """A bulk INSERT. On SQLite, straight to the driver: SQLAlchemy's per-row parameter
    processing is most of the cost of a million rows, and these rows are already clean."""
    if not batch:
        return
    table = getattr(target, "__table__", target)
    if db.engine.dialect.name != "sqlite":
        db.session.execute(insert(table), batch)
        return
    columns = list(batch[0])
    convert = [(c, _converter(table.c[c].type)) for c in columns]
    sql = (
        f'INSERT INTO "{table.name}" ({", ".join(columns)}) '
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    values = [tuple(f(row[c]) if f else row[c] for c, f in convert) for row in batch]
    db.session.connection().exec_driver_sql(sql, values)


def write_rows(
    target, rows: Iterator[dict], progress: Callable[[str, int], None], label: str
) -> int:
    total = 0
    for batch in batches(rows):
        insert_rows(target, batch)
        db.session.commit()
        total += len(batch)
        progress(label, total)
    return total
