"""Domain events: what happened to a team's records, told to subscribers after the commit.

Promise: a service calls emit("contact.created", team_id=…, record_type="contact",
record_id=…, actor_id=…, changes=…) inside its transaction. The event waits on the session: a
rollback drops it, and so does the rollback of the savepoint it was emitted in (a failed CSV
import row). When the transaction commits, its events are written to `event_outbox` *in that
same transaction* (a before_commit hook), so a committed change always has its events and a
failed one never does. Right after the commit, every subscriber declared by a feature
(Feature.subscribers in crm/features.py) is called with the transaction's events, in emit
order, and the rows are marked published. If the process dies between the commit and that
mark, sweep() (every minute and at start-up) tells the subscribers again once the committing
process's claim is stale — so subscribers are told *at least once* and must be idempotent
(skip an event id they already acted on: crm/webhooks/fanout.py, crm/automation/engine.py).

A subscriber must not raise into the request that caused the events (an exception is logged,
the next subscriber still runs, and the events stay unpublished for the sweep to retry). The
session that just committed cannot run SQL any more: a subscriber that writes opens its own
session or enqueues a job.

Event names are "<record type>.<past tense>" (contact.created, deal.stage_changed); the names a
feature emits are listed in its Feature.events, which is the catalogue webhooks offer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import delete, event, insert, or_, select, update
from sqlalchemy.orm import Session

from crm.extensions import db
from crm.models.base import utcnow
from crm.models.event import EventOutbox

log = logging.getLogger(__name__)
_KEY = "crm.events"
_WRITTEN = "crm.events.written"  # event ids already in this transaction's outbox rows
# A committing process publishes its events within milliseconds of its commit; a claim this old
# means it died in between, and the sweep publishes them.
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 10  # then the row is left for a person to look at (logged)
KEEP_PUBLISHED = timedelta(days=1)
SWEEP_BATCH = 500

# An audit action (crm.kernel.audit) as the past tense of an event name.
PAST = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "restore": "restored",
    "won": "won",
    "lost": "lost",
    "reopen": "reopened",
}


@dataclass(frozen=True)
class Event:
    name: str
    team_id: int
    record_type: str
    record_id: int
    actor_id: int | None = None
    changes: dict = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: datetime = field(default_factory=utcnow)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "event": self.name,
            "team_id": self.team_id,
            "record_type": self.record_type,
            "record_id": self.record_id,
            "actor_id": self.actor_id,
            "changes": self.changes,
            "created_at": self.occurred_at.isoformat(),
        }


Subscriber = Callable[[Sequence[Event]], None]


def emit(
    name: str,
    *,
    team_id: int,
    record_type: str,
    record_id: int,
    actor_id: int | None = None,
    changes: dict | None = None,
    session: Session | None = None,
) -> Event:
    """Record an event in the current transaction; subscribers hear of it after the commit."""
    session = session or db.session()
    transaction = session.get_nested_transaction() or session.get_transaction() or session.begin()
    ev = Event(name, team_id, record_type, record_id, actor_id, dict(changes or {}))
    session.info.setdefault(_KEY, []).append((transaction, ev))
    return ev


def audited(record_type: str, action: str, **kwargs) -> Event | None:
    """emit() for an audit action ("create" → "<type>.created"); other actions emit nothing."""
    past = PAST.get(action)
    return emit(f"{record_type}.{past}", record_type=record_type, **kwargs) if past else None


def changed(
    record_type: str,
    *,
    team_id: int,
    record_id: int,
    actor_id: int | None = None,
    changes: dict,
    session: Session | None = None,
) -> None:
    """Tell of a change to a part of a record (a custom field value) as `<type>.updated`,
    folded into the transaction's pending event of that record when there is one: a
    `<type>.created` already tells the whole record, a `<type>.updated` gains these changes."""
    session = session or db.session()
    for _, ev in session.info.get(_KEY, []):
        if ev.record_type != record_type or ev.record_id != record_id:
            continue
        if ev.name == f"{record_type}.created":
            return
        if ev.name == f"{record_type}.updated":
            ev.changes.update(changes)
            return
    emit(
        f"{record_type}.updated",
        team_id=team_id,
        record_type=record_type,
        record_id=record_id,
        actor_id=actor_id,
        changes=changes,
        session=session,
    )


def pending(session: Session | None = None) -> list[Event]:
    """Events emitted in the open transaction (tests and debugging)."""
    return [ev for _, ev in (session or db.session()).info.get(_KEY, [])]


def subscribers() -> list[Subscriber]:
    from crm.kernel.features import declared

    return [sub for feature in declared() for sub in feature.subscribers]


def publish(events: Sequence[Event]) -> bool:
    """Tell every declared subscriber; one that fails is logged and does not stop the rest.
    True when none failed."""
    ok = True
    for subscriber in subscribers():
        try:
            subscriber(events)
        except Exception:  # noqa: BLE001 - the change is committed; never fail it afterwards
            log.exception("event subscriber %r failed", subscriber)
            ok = False
    return ok


def _enabled() -> bool:
    return not has_app_context() or current_app.config.get("EVENTS_ENABLED", True)


@event.listens_for(Session, "before_commit")
def _before_commit(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its events wait for the real commit
    items = session.info.get(_KEY)
    if not items or not _enabled():
        return
    fresh = [ev for _, ev in items if ev.id not in session.info.setdefault(_WRITTEN, set())]
    if not fresh:
        return
    now = utcnow()
    session.execute(
        insert(EventOutbox),
        [
            {
                "team_id": ev.team_id,
                "event_id": ev.id,
                "name": ev.name,
                "record_type": ev.record_type,
                "record_id": ev.record_id,
                "actor_id": ev.actor_id,
                "changes": ev.changes,
                "occurred_at": ev.occurred_at,
                "claimed_at": now,
                "attempts": 1,
            }
            for ev in fresh
        ],
    )
    session.info[_WRITTEN].update(ev.id for ev in fresh)


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its events wait for the real commit
    session.info.pop(_WRITTEN, None)
    items = session.info.pop(_KEY, None)
    if not items or not has_app_context() or not _enabled():
        return
    publish_committed([ev for _, ev in items])


def publish_committed(events: Sequence[Event]) -> bool:
    """Tell the subscribers of committed events and mark their outbox rows published (left
    for the sweep when a subscriber failed). True when all went well."""
    ok = publish(events)
    if ok:
        with db.engine.begin() as connection:
            connection.execute(
                update(EventOutbox)
                .where(EventOutbox.event_id.in_([ev.id for ev in events]))
                .values(published_at=utcnow(), claimed_at=None)
            )
    return ok


def sweep(now: datetime | None = None) -> int:
    """Publish the events of commits whose process died before telling the subscribers (or
    whose subscriber failed): claim their rows, tell, mark. Also forgets rows published more
    than a day ago. Returns how many events were published."""
    now = now or utcnow()
    db.session.execute(
        delete(EventOutbox)
        .where(EventOutbox.published_at < now - KEEP_PUBLISHED)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    due = (
        EventOutbox.published_at.is_(None),
        or_(EventOutbox.claimed_at.is_(None), EventOutbox.claimed_at < now - LEASE),
        EventOutbox.attempts < MAX_ATTEMPTS,
    )
    published = 0
    while True:
        ids = db.session.scalars(
            select(EventOutbox.id).where(*due).order_by(EventOutbox.id).limit(SWEEP_BATCH)
        ).all()
        if not ids:
            return published
        # Claim them (one conditional UPDATE: of two sweeps, one gets each row).
        claimed = (
            db.session.execute(
                update(EventOutbox)
                .where(EventOutbox.id.in_(ids), *due)
                .values(claimed_at=now, attempts=EventOutbox.attempts + 1)
                .returning(EventOutbox.id)
                .execution_options(synchronize_session=False)
            )
            .scalars()
            .all()
        )
        rows = db.session.scalars(
            select(EventOutbox).where(EventOutbox.id.in_(claimed)).order_by(EventOutbox.id)
        ).all()
        events = [_from_row(row) for row in rows]
        db.session.commit()
        if events:
            if publish_committed(events):
                published += len(events)
            elif any(row.attempts >= MAX_ATTEMPTS for row in rows):
                log.error("events left unpublished after %d attempts", MAX_ATTEMPTS)
        if len(ids) < SWEEP_BATCH:
            return published


def _from_row(row: EventOutbox) -> Event:
    return Event(
        row.name,
        row.team_id,
        row.record_type,
        row.record_id,
        row.actor_id,
        dict(row.changes or {}),
        row.event_id,
        row.occurred_at,
    )


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_WRITTEN, None)
    items = session.info.get(_KEY)
    if not items:
        return
    if not previous_transaction.nested:
        session.info.pop(_KEY, None)
        return
    # A savepoint rolled back: drop what was emitted inside it (or inside savepoints within it).
    session.info[_KEY] = [(tx, ev) for tx, ev in items if not _within(tx, previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _after_end(session, transaction) -> None:
    # A session closed or removed without a commit: its events never happened.
    if transaction.parent is None and session.info.get(_KEY):
        session.info[_KEY] = [
            (tx, ev) for tx, ev in session.info[_KEY] if not _within(tx, transaction)
        ]


def _within(transaction, ancestor) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
