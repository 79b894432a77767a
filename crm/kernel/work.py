"""Work rows: claiming, reclaiming and requeuing work that lives in a table, once.

Work in flight is a row before it is a job (an outbox email, a received message, an import, a
due reminder). The promise:

- `claim()` / `claim_batch()` take rows with one conditional UPDATE: of two workers (or a job
  enqueued twice), exactly one sees a row as claimed; the other gets False / no id and does
  nothing. The condition is the caller's ("still pending and due", "not sent yet").
- `stale()` is the lease: a claim older than it belongs to a worker that died.
- `reclaim()` hands such rows back (working → waiting) in one UPDATE, and `requeue()` gives
  every waiting row to the queue again. A sweep calls both; since the claim decides, requeuing a
  row twice is harmless.

Callers say which columns mean "waiting", "working" and "claimed at": the rules are here, the
states stay the feature's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update

from crm.extensions import db


def stale(claimed_at, lease: timedelta, now: datetime) -> ColumnElement[bool]:
    """A claim taken before `now - lease`: its worker is presumed dead."""
    return claimed_at < now - lease


def claim(model, ident, *where, values: dict, commit: bool = True) -> bool:
    """Claim one row (by primary key) if `where` still holds; True when this caller won.

    With commit=False the claim joins the caller's transaction (e.g. to commit it with the
    side effect's record, so both happen or neither); the caller then commits or rolls back.
    """
    claimed = db.session.execute(
        update(model)
        .where(model.id == ident, *where)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if commit:
        db.session.commit()
    return bool(claimed)


def claim_batch(
    model, *where, values: dict, limit: int, ids: Iterable[int] | None = None
) -> list[int]:
    """Claim up to `limit` rows where `where` holds, oldest id first; the ids this caller won,
    sorted. Committed at once, so a second worker's batch never overlaps this one."""
    pick = select(model.id).where(*where).order_by(model.id).limit(limit)
    if ids is not None:
        pick = pick.where(model.id.in_(list(ids)))
    claimed = db.session.scalars(
        update(model)
        .where(model.id.in_(pick.scalar_subquery()), *where)
        .values(**values)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(claimed)


def reclaim(model, *where, values: dict) -> int:
    """Hand back rows whose claim went stale (`where` says working and `stale(...)`): one
    UPDATE to `values` (the waiting state), committed; the number of rows handed back."""
    count = db.session.execute(
        update(model).where(*where).values(**values).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return count


def requeue(model, *where, enqueue: Callable[[int], object]) -> int:
    """Give every waiting row (`where`) to the queue again: `enqueue(id)` for each, in id order.
    The claim makes a duplicate job a no-op, so this never needs to know what is queued."""
    ids = db.session.scalars(select(model.id).where(*where).order_by(model.id)).all()
    for ident in ids:
        enqueue(ident)
    return len(ids)
