"""Domain events: what happened to a team's records, told to subscribers after the commit.

Promise: a service calls emit("contact.created", team_id=…, record_type="contact",
record_id=…, actor_id=…, changes=…) inside its transaction. Nothing is told then: the event
waits on the session and reaches subscribers only once the transaction commits — a rollback
drops it, and so does the rollback of the savepoint it was emitted in (a failed CSV import row).
Subscribers are declared by features (Feature.subscribers in crm/features.py); each is called
with the committed transaction's events, in emit order, and must not raise into the request that
caused them (an exception is logged and the next subscriber still runs). The session that just
committed cannot run SQL any more: a subscriber that writes opens its own session (see
crm/webhooks/fanout.py) or enqueues a job.

Event names are "<record type>.<past tense>" (contact.created, deal.stage_changed); the names a
feature emits are listed in its Feature.events, which is the catalogue webhooks offer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from crm.extensions import db
from crm.models.base import utcnow

log = logging.getLogger(__name__)
_KEY = "crm.events"

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


def pending(session: Session | None = None) -> list[Event]:
    """Events emitted in the open transaction (tests and debugging)."""
    return [ev for _, ev in (session or db.session()).info.get(_KEY, [])]


def subscribers() -> list[Subscriber]:
    from crm.kernel.features import declared

    return [sub for feature in declared() for sub in feature.subscribers]


def publish(events: Sequence[Event]) -> None:
    """Tell every declared subscriber; one that fails is logged and does not stop the rest."""
    for subscriber in subscribers():
        try:
            subscriber(events)
        except Exception:  # noqa: BLE001 - the change is committed; never fail it afterwards
            log.exception("event subscriber %r failed", subscriber)


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its events wait for the real commit
    items = session.info.pop(_KEY, None)
    if not items or not has_app_context():
        return
    if current_app.config.get("EVENTS_ENABLED", True):
        publish([ev for _, ev in items])


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous_transaction) -> None:
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
