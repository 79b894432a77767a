"""Email-in processing: claiming stored messages, processing them a batch (one transaction) at a
time with a savepoint per message, and the log's actions (retry, discard, file on a contact).

What happens to one message (log it, hold it, reject it) is decided in `rules`; the per-batch
reads are `lookups.Lookups`; writing the email and its timeline entry is `filing`.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime, timedelta
from time import monotonic

from flask import current_app
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from crm import outbox, queue
from crm.extensions import db
from crm.inbound import filing
from crm.inbound.lookups import Lookups
from crm.inbound.mailtypes import ParsedMail
from crm.inbound.parsing import parse_message
from crm.inbound.rules import NO_NOTICE_REASONS, Outcome, decide, queue_notice
from crm.kernel import work
from crm.models import (
    Activity,
    Company,
    Contact,
    Deal,
    InboundMessage,
    InboundStatus,
    OutboundEmail,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

HELD = (InboundStatus.UNVERIFIED, InboundStatus.REVIEW)
RETRYABLE = (InboundStatus.FAILED, InboundStatus.REVIEW, InboundStatus.UNVERIFIED)


# --- Entry points -------------------------------------------------------------------------------

BATCH_SIZE = 25  # messages per transaction: bigger batches hold SQLite's write lock longer
DRAIN_SECONDS = 20.0  # one drain job hands over to a fresh one after this (RQ job timeouts)
STALE_CLAIM = timedelta(minutes=10)
_DRAIN_QUEUED = "rapport:inbound-drain-queued"


def enqueue_drain() -> None:
    """Make sure a drain job is waiting: at most one is queued at a time, however much arrives.

    The flag is cleared when the job starts (before it claims anything), so mail committed
    after that wakes another job (the second worker), and none is ever left without one.
    """
    conn = queue.connection()
    if not conn.set(_DRAIN_QUEUED, 1, nx=True, ex=60):
        return
    try:
        queue.enqueue("jobs.inbound.process_pending")
    except Exception:
        conn.delete(_DRAIN_QUEUED)
        raise


def process_pending(limit: int | None = None, seconds: float = DRAIN_SECONDS) -> int:
    """Process every RECEIVED message, a batch (one transaction) at a time; returns the count."""
    limit = limit or current_app.config.get("INBOUND_BATCH_SIZE") or BATCH_SIZE
    queue.connection().delete(_DRAIN_QUEUED)
    started = monotonic()
    done = 0
    while ids := _claim(limit=limit):
        process_batch(ids)
        done += len(ids)
        if monotonic() - started > seconds:
            enqueue_drain()
            break
    return done


def process(inbound_id: int) -> InboundStatus | None:
    """Process one stored message; never raises for a problem in the message itself."""
    if _claim(ids=[inbound_id]):
        process_batch([inbound_id])
    status = db.session.scalar(select(InboundMessage.status).where(InboundMessage.id == inbound_id))
    return status


def _claim(*, ids: list[int] | None = None, limit: int = BATCH_SIZE) -> list[int]:
    """RECEIVED → PROCESSING with one conditional UPDATE, so two workers never share a message."""
    return work.claim_batch(
        InboundMessage,
        InboundMessage.status == InboundStatus.RECEIVED,
        values={"status": InboundStatus.PROCESSING, "updated_at": utcnow()},
        limit=limit,
        ids=ids,
    )


def process_batch(ids: list[int]) -> None:
    """Process claimed messages in one transaction, each in its own SAVEPOINT.

    A message that raises is rolled back alone and marked FAILED (retryable); the others
    commit. Per-batch lookups (users, teams, teammates, never-log lists, contacts by address,
    already-logged Message-IDs) are read once for the whole batch.
    """
    try:
        notices = _process_batch(ids)
    except Exception:
        # The batch as a whole could not commit (a database error): one at a time instead.
        db.session.rollback()
        if len(ids) == 1:
            _fail(ids[0])
            return
        for inbound_id in ids:
            process_batch([inbound_id])
        return
    for notice in notices:
        outbox.enqueue(notice)


def _process_batch(ids: list[int]) -> list[OutboundEmail]:
    messages = db.session.scalars(
        select(InboundMessage)
        .where(InboundMessage.id.in_(ids), InboundMessage.status == InboundStatus.PROCESSING)
        .order_by(InboundMessage.id)
    ).all()
    parsed = {m.id: parse_message(m.raw) for m in messages}
    lookups = Lookups()
    lookups.defer_touches = True
    lookups.prefetch(messages, parsed)
    # Take the write lock now, before the first SAVEPOINT: on SQLite a savepoint opened
    # outside a write transaction reads a snapshot, and its first write then fails at once
    # ("database is locked") if the listener committed meanwhile, instead of waiting.
    db.session.execute(
        update(InboundMessage)
        .where(InboundMessage.id.in_([m.id for m in messages]))
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    notices = []
    for message in messages:
        notice = _process_one(message, parsed[message.id], lookups)
        if notice is not None:
            notices.append(notice)
    _apply_touches(lookups.touches)
    db.session.commit()
    return notices


def _process_one(
    message: InboundMessage, parsed: ParsedMail, lookups: Lookups
) -> OutboundEmail | None:
    attempts = (message.attempts or 0) + 1
    for last_try in (False, True):
        try:
            with db.session.begin_nested():
                message.attempts = attempts
                # Flushes happen where ids are needed; autoflush before every SELECT cost a third.
                with db.session.no_autoflush:
                    outcome = decide(message, parsed, lookups)
                notice = _finish(message, outcome)
            lookups.keep_touches()
            return notice
        except (IntegrityError, OperationalError):
            # Another worker logged the same Message-ID (or took the same row lock) at the
            # same moment: try once more, which finds its EmailMessage and links to it.
            lookups.forget()
            if last_try:
                _mark_failed(message, attempts, traceback.format_exc(limit=6))
        except Exception:
            lookups.forget()
            _mark_failed(message, attempts, traceback.format_exc(limit=6))
            return None
    return None


def _apply_touches(touches: dict[tuple[str, int, int], datetime]) -> None:
    """Move last_activity_at forward for the batch, one statement per table, in id order.

    Row locks taken in the same order by every worker cannot deadlock (PostgreSQL); per
    message and in message order, two batches sharing contacts did.
    """
    for name, model in (("contact", Contact), ("company", Company), ("deal", Deal)):
        rows = sorted(
            (record_id, team_id, when)
            for (kind, team_id, record_id), when in touches.items()
            if kind == name
        )
        if not rows:
            continue
        table = model.__table__
        db.session.execute(
            update(table)
            .where(
                table.c.id == bindparam("t_id"),
                table.c.team_id == bindparam("t_team"),
                or_(
                    table.c.last_activity_at.is_(None),
                    table.c.last_activity_at < bindparam("t_when"),
                ),
            )
            .values(last_activity_at=bindparam("t_when")),
            [{"t_id": i, "t_team": t, "t_when": w} for i, t, w in rows],
        )


def retry(message: InboundMessage) -> None:
    """Put a failed or held message back in the queue (the inbound log's Retry button)."""
    if message.status not in RETRYABLE:
        return
    message.status = InboundStatus.RECEIVED
    message.error = None
    message.reason = None
    db.session.commit()
    queue.enqueue("jobs.inbound.process_inbound", message.id, job_id=f"inbound-{message.id}")


def discard(message: InboundMessage, by: User) -> None:
    """A person decided a held message is not worth logging; it stays in the log."""
    if message.status not in RETRYABLE:
        return
    message.status = InboundStatus.REJECTED
    message.reason = f"discarded by {by.name}"[:300]
    message.processed_at = utcnow()
    db.session.commit()


def file_on_contact(message: InboundMessage, contact: Contact, by: User) -> Activity:
    """File a held message on one contact chosen by a person (the review queue's one click)."""
    parsed = parse_message(message.raw)
    lookups = Lookups()
    result = lookups.plan(message, parsed)
    activity = filing.log_email(
        message, parsed, result, [contact], primary=contact, deal=None, by=by, lookups=lookups
    )
    message.status = InboundStatus.PROCESSED
    message.reason = f"filed on {contact.name} by {by.name}"[:300]
    message.error = None
    message.processed_at = utcnow()
    db.session.commit()
    return activity


def sweep_received() -> int:
    """Re-enqueue messages stuck in RECEIVED (a lost queue) or PROCESSING (a crashed worker)."""
    now = utcnow()
    work.reclaim(
        InboundMessage,
        InboundMessage.status == InboundStatus.PROCESSING,
        work.stale(InboundMessage.updated_at, STALE_CLAIM, now),
        values={"status": InboundStatus.RECEIVED, "updated_at": now - timedelta(minutes=5)},
    )
    stuck = db.session.scalar(
        select(func.count(InboundMessage.id)).where(
            InboundMessage.status == InboundStatus.RECEIVED,
            InboundMessage.updated_at < now - timedelta(minutes=2),
        )
    )
    if stuck:
        queue.enqueue("jobs.inbound.process_pending")
    return stuck or 0


def _fail(inbound_id: int) -> None:
    """Mark one message FAILED in a transaction of its own (its batch could not commit)."""
    error = traceback.format_exc(limit=6)
    message = db.session.get(InboundMessage, inbound_id)
    if message is not None:
        _mark_failed(message, (message.attempts or 0) + 1, error)
        db.session.commit()


def _mark_failed(message: InboundMessage, attempts: int, error: str) -> None:
    log.warning("processing inbound message %s failed:\n%s", message.id, error)
    message.status = InboundStatus.FAILED
    message.error = error[-4000:]
    message.attempts = attempts
    message.processed_at = utcnow()


def _finish(message: InboundMessage, outcome: Outcome) -> OutboundEmail | None:
    """Write the outcome; held or rejected mail gets a notice (never for machines' mail)."""
    message.status = outcome.status
    message.reason = outcome.reason[:300] or None
    message.error = None
    message.processed_at = utcnow()
    if outcome.status == InboundStatus.PROCESSED or message.user is None:
        return None
    if outcome.reason in NO_NOTICE_REASONS:
        return None
    return queue_notice(message, outcome)


def held_count(user: User, team_id: int, everyone: bool) -> int:
    stmt = select(func.count(InboundMessage.id)).where(
        InboundMessage.team_id == team_id, InboundMessage.status.in_(HELD)
    )
    if not everyone:
        stmt = stmt.where(InboundMessage.user_id == user.id)
    return db.session.scalar(stmt) or 0
