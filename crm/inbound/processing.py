"""Turning a stored inbound message into timeline entries (run by jobs.inbound.process_inbound).

The rules, in order (each outcome is written on the InboundMessage, visible in the inbound log):

1. Only a message still RECEIVED is processed, so a job that runs twice does nothing twice.
   Any exception leaves the message FAILED with the error text; Retry re-runs it.
2. Bounces and auto-replies (out-of-office, vacation) are REJECTED with reason "bounce" /
   "auto-reply": they are machines talking, not conversations, and we never answer them
   (no mail loops). An unknown plus-command is REJECTED too.
3. The sender must be the user (their account address). Otherwise:
   - if the user is among the To/Cc recipients, it is their auto-forward filter at work: the
     mail is logged, but only on contacts that already exist (no contacts are created from mail
     anyone could have sent to the address);
   - else it is held UNVERIFIED for review.
4. What the parser cannot attribute with confidence (ambiguous forward, nobody outside the
   team), no matching contact with auto-create off, or an unknown `+deal-<id>`: REVIEW.
5. Otherwise one EmailMessage per (team, Message-ID) and one timeline Activity linked to every
   matched contact, the primary contact's company, and a deal (the `+deal` one, else the primary
   contact's only open deal). The same message sent in again (two teammates BCC'd it) links to
   the existing EmailMessage and Activity: logged once.
6. Held or rejected mail (except bounces and auto-replies) gets a short notice to the user.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.utils import parseaddr
from pathlib import Path
from time import monotonic
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from crm import outbox, queue, sweeps
from crm.extensions import db
from crm.inbound import authresults
from crm.inbound.mailtypes import Address, Attachment, ParsedMail
from crm.inbound.parsing import parse_message, split_quoted
from crm.inbound.routing import Plan, company_domain, parse_recipient, plan
from crm.models import (
    Activity,
    ActivityContact,
    ActivityKind,
    Company,
    Contact,
    ContactEmail,
    Deal,
    DealStatus,
    EmailAttachment,
    EmailMessage,
    InboundMessage,
    InboundStatus,
    Membership,
    NeverLog,
    OutboundEmail,
    Task,
    Team,
    User,
    deal_contact,
    utcnow,
)
from crm.timeline.services import record

log = logging.getLogger(__name__)

HELD = (InboundStatus.UNVERIFIED, InboundStatus.REVIEW)
RETRYABLE = (InboundStatus.FAILED, InboundStatus.REVIEW, InboundStatus.UNVERIFIED)
NO_NOTICE_REASONS = ("auto-reply", "bounce")
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024
_LOCAL_COMMAND = re.compile(r"^[^+@]+\+([^@]*)@")


@dataclass
class Outcome:
    status: InboundStatus
    reason: str = ""


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
    pick = (
        select(InboundMessage.id)
        .where(InboundMessage.status == InboundStatus.RECEIVED)
        .order_by(InboundMessage.id)
        .limit(limit)
    )
    if ids is not None:
        pick = pick.where(InboundMessage.id.in_(ids))
    claimed = db.session.scalars(
        update(InboundMessage)
        .where(
            InboundMessage.id.in_(pick.scalar_subquery()),
            InboundMessage.status == InboundStatus.RECEIVED,
        )
        .values(status=InboundStatus.PROCESSING, updated_at=utcnow())
        .returning(InboundMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(claimed)


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
                    outcome = _process(message, parsed, lookups)
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
    activity = _log(
        message, parsed, result, [contact], primary=contact, deal=None, by=by, lookups=lookups
    )
    message.status = InboundStatus.PROCESSED
    message.reason = f"filed on {contact.name} by {by.name}"[:300]
    message.error = None
    message.processed_at = utcnow()
    db.session.commit()
    return activity


@sweeps.sweep
def sweep_received() -> int:
    """Re-enqueue messages stuck in RECEIVED (a lost queue) or PROCESSING (a crashed worker)."""
    now = utcnow()
    db.session.execute(
        update(InboundMessage)
        .where(
            InboundMessage.status == InboundStatus.PROCESSING,
            InboundMessage.updated_at < now - STALE_CLAIM,
        )
        .values(status=InboundStatus.RECEIVED, updated_at=now - timedelta(minutes=5))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    stuck = db.session.scalar(
        select(func.count(InboundMessage.id)).where(
            InboundMessage.status == InboundStatus.RECEIVED,
            InboundMessage.updated_at < now - timedelta(minutes=2),
        )
    )
    if stuck:
        queue.enqueue("jobs.inbound.process_pending")
    return stuck or 0


# --- Per-batch lookups --------------------------------------------------------------------------


class Lookups:
    """What processing reads, read once per batch; each getter falls back to a query on a miss.

    Caches of rows written in the batch (emails, contacts, companies) are dropped by forget()
    when a message's savepoint is rolled back, since they may name rows that no longer exist.
    """

    def __init__(self) -> None:
        self.teams: dict[int, Team | None] = {}
        self.members: dict[int, dict[int, str]] = {}  # team id → {user id: email}
        self.never_log: dict[int, set[str]] = {}
        self.plans: dict[int, Plan] = {}
        self.emails: dict[tuple[int, str], EmailMessage | None] = {}
        self.contacts: dict[tuple[int, str], Contact | None] = {}
        self.companies: dict[tuple[int, str], Company] = {}
        self.open_deals: dict[int, list[Deal]] = {}  # contact id → up to 2 open deals
        self.thread_of: dict[tuple[int, str], str] = {}  # (team, Message-ID) → thread key
        self.thread_of_reply_to: dict[tuple[int, str], str] = {}  # (team, In-Reply-To) → key
        self.threads_known: set[int] = set()  # teams whose thread keys were prefetched
        # last_activity_at moves: the current message's, then the batch's (see _apply_touches)
        self.defer_touches = False  # True in a batch: applied once, before its commit
        self.pending_touches: list[tuple[str, int, int, datetime]] = []
        self.touches: dict[tuple[str, int, int], datetime] = {}

    def touch(self, kind: str, team_id: int, ids: Iterable[int | None], when: datetime) -> None:
        self.pending_touches.extend((kind, team_id, i, when) for i in ids if i)

    def keep_touches(self) -> None:
        for kind, team_id, record_id, when in self.pending_touches:
            key = (kind, team_id, record_id)
            if key not in self.touches or self.touches[key] < when:
                self.touches[key] = when
        self.pending_touches.clear()

    def prefetch(self, messages: list[InboundMessage], parsed: dict[int, ParsedMail]) -> None:
        team_ids = {m.team_id for m in messages if m.team_id}
        user_ids = {m.user_id for m in messages if m.user_id}
        if not team_ids:
            return
        db.session.scalars(select(User).where(User.id.in_(user_ids))).all()  # identity map
        for team in db.session.scalars(select(Team).where(Team.id.in_(team_ids))):
            self.teams[team.id] = team
        for team_id in team_ids:
            self.members.setdefault(team_id, {})
            self.never_log.setdefault(team_id, set())
        for team_id, user_id, email in db.session.execute(
            select(Membership.team_id, Membership.user_id, User.email)
            .join(User, User.id == Membership.user_id)
            .where(Membership.team_id.in_(team_ids))
        ):
            self.members[team_id][user_id] = email.lower()
        for team_id, pattern in db.session.execute(
            select(NeverLog.team_id, NeverLog.pattern).where(NeverLog.team_id.in_(team_ids))
        ):
            self.never_log[team_id].add(pattern)
        addresses: dict[int, set[str]] = {}
        message_ids: dict[int, set[str]] = {}
        related: dict[int, set[str]] = {}
        for message in messages:
            try:
                result = self.plan(message, parsed[message.id])
            except Exception:  # noqa: BLE001 - it fails again in its savepoint, and is marked
                continue
            addresses.setdefault(message.team_id, set()).update(
                a.email for a in result.participants
            )
            message_ids.setdefault(message.team_id, set()).add(result.message_id[:300])
            related.setdefault(message.team_id, set()).update(i[:300] for i in result.thread_ids)
        for team_id, mids in message_ids.items():
            found = {
                e.message_id: e
                for e in db.session.scalars(
                    select(EmailMessage).where(
                        EmailMessage.team_id == team_id, EmailMessage.message_id.in_(mids)
                    )
                )
            }
            for mid in mids:
                self.emails[(team_id, mid)] = found.get(mid)
        for team_id, emails in addresses.items():
            found_contacts = self._contacts_by_email(team_id, emails)
            for email in emails:
                self.contacts[(team_id, email)] = found_contacts.get(email)
            self._prefetch_open_deals(team_id, {c.id for c in found_contacts.values()})
        for team_id, mids in message_ids.items():
            self._prefetch_threads(team_id, mids, related.get(team_id, set()))

    def _prefetch_open_deals(self, team_id: int, contact_ids: set[int]) -> None:
        for contact_id in contact_ids:
            self.open_deals[contact_id] = []
        if not contact_ids:
            return
        for contact_id, deal in db.session.execute(
            select(deal_contact.c.contact_id, Deal)
            .join(Deal, Deal.id == deal_contact.c.deal_id)
            .where(
                deal_contact.c.contact_id.in_(contact_ids),
                Deal.team_id == team_id,
                Deal.status == DealStatus.OPEN,
                Deal.deleted_at.is_(None),
            )
        ):
            self.open_deals[contact_id].append(deal)

    def _prefetch_threads(self, team_id: int, message_ids: set[str], related: set[str]) -> None:
        """Thread keys of the batch's relatives, both ways, in two queries (see _thread_key)."""
        if related:
            for message_id, key in db.session.execute(
                select(EmailMessage.message_id, EmailMessage.thread_key).where(
                    EmailMessage.team_id == team_id, EmailMessage.message_id.in_(related)
                )
            ):
                self.thread_of[(team_id, message_id)] = key
        for reply_to, key in db.session.execute(
            select(EmailMessage.in_reply_to, EmailMessage.thread_key).where(
                EmailMessage.team_id == team_id, EmailMessage.in_reply_to.in_(message_ids)
            )
        ):
            self.thread_of_reply_to.setdefault((team_id, reply_to), key)
        self.threads_known.add(team_id)

    def single_open_deal(self, team_id: int, contact_id: int) -> Deal | None:
        if contact_id not in self.open_deals:
            return _single_open_deal(team_id, contact_id)
        deals = self.open_deals[contact_id]
        return deals[0] if len(deals) == 1 else None

    def thread_key(self, team_id: int, parsed: ParsedMail, result: Plan) -> str:
        if team_id not in self.threads_known:
            return _thread_key(team_id, parsed, result)
        related = [i[:300] for i in result.thread_ids]
        if related:
            for message_id in related:
                if known := self.thread_of.get((team_id, message_id)):
                    return known
            return parsed.references[0] if parsed.references else related[0]
        return self.thread_of_reply_to.get((team_id, result.message_id)) or result.message_id

    def logged(self, email: EmailMessage) -> None:
        """An email written in this batch: later messages of the batch thread and dedupe on it."""
        self.emails[(email.team_id, email.message_id)] = email
        self.thread_of[(email.team_id, email.message_id)] = email.thread_key
        if email.in_reply_to:
            self.thread_of_reply_to.setdefault((email.team_id, email.in_reply_to), email.thread_key)

    def forget(self) -> None:
        self.pending_touches.clear()
        self.emails.clear()
        self.contacts.clear()
        self.companies.clear()
        self.thread_of.clear()
        self.thread_of_reply_to.clear()
        self.threads_known.clear()

    def team(self, team_id: int | None) -> Team | None:
        if not team_id:
            return None
        if team_id not in self.teams:
            self.teams[team_id] = db.session.get(Team, team_id)
        return self.teams[team_id]

    def team_members(self, team_id: int) -> dict[int, str]:
        if team_id not in self.members:
            self.members[team_id] = {
                user_id: email.lower()
                for user_id, email in db.session.execute(
                    select(Membership.user_id, User.email)
                    .join(User, User.id == Membership.user_id)
                    .where(Membership.team_id == team_id)
                )
            }
        return self.members[team_id]

    def never_log_for(self, team_id: int) -> set[str]:
        if team_id not in self.never_log:
            self.never_log[team_id] = set(
                db.session.scalars(select(NeverLog.pattern).where(NeverLog.team_id == team_id))
            )
        return self.never_log[team_id]

    def plan(self, message: InboundMessage, parsed: ParsedMail) -> Plan:
        if message.id not in self.plans:
            user = message.user
            self.plans[message.id] = plan(
                parsed,
                {user.email.lower()} if user else set(),
                set(self.team_members(message.team_id).values()),
                self.never_log_for(message.team_id),
                current_app.config["INBOUND_DOMAIN"],
            )
        return self.plans[message.id]

    def existing_email(self, team_id: int, message_id: str) -> EmailMessage | None:
        key = (team_id, message_id[:300])
        if key not in self.emails:
            self.emails[key] = db.session.scalars(
                select(EmailMessage).where(
                    EmailMessage.team_id == team_id, EmailMessage.message_id == key[1]
                )
            ).first()
        return self.emails[key]

    def contacts_by_email(self, team_id: int, emails: list[str]) -> dict[str, Contact]:
        missing = [e for e in emails if (team_id, e) not in self.contacts]
        if missing:
            found = self._contacts_by_email(team_id, missing)
            for email in missing:
                self.contacts[(team_id, email)] = found.get(email)
        return {e: contact for e in emails if (contact := self.contacts[(team_id, e)]) is not None}

    @staticmethod
    def _contacts_by_email(team_id: int, emails: Iterable[str]) -> dict[str, Contact]:
        rows = db.session.execute(
            select(ContactEmail.email, Contact)
            .join(Contact, Contact.id == ContactEmail.contact_id)
            .where(
                ContactEmail.team_id == team_id,
                ContactEmail.email.in_(list(emails)),
                Contact.deleted_at.is_(None),
            )
        ).all()
        return {email: contact for email, contact in rows}


# --- The pipeline -------------------------------------------------------------------------------


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
    return _queue_notice(message, outcome)


def _process(message: InboundMessage, parsed: ParsedMail, lookups: Lookups) -> Outcome:
    message.subject = (parsed.subject or "")[:300] or None
    message.from_addr = parsed.from_.email[:254] if parsed.from_ else None
    user, team = message.user, lookups.team(message.team_id)
    if user is None or team is None or user.id not in lookups.team_members(team.id):
        return Outcome(InboundStatus.REJECTED, "the address's owner is no longer in this team")
    if parsed.is_bounce:
        return Outcome(InboundStatus.REJECTED, "bounce")
    if parsed.is_auto_reply or _is_our_notice(parsed):
        return Outcome(InboundStatus.REJECTED, "auto-reply")
    domain = current_app.config["INBOUND_DOMAIN"]
    recipient = parse_recipient(message.envelope_to, domain)
    command = _LOCAL_COMMAND.match(message.envelope_to or "")
    if recipient is None and command:
        return Outcome(InboundStatus.REJECTED, f"unknown command +{command.group(1)}")
    deal = None
    if recipient is not None and recipient.command == "deal":
        deal = db.session.scalars(
            select(Deal).where(
                Deal.team_id == team.id, Deal.id == recipient.arg, Deal.deleted_at.is_(None)
            )
        ).first()
        if deal is None:
            return Outcome(InboundStatus.REVIEW, f"deal #{recipient.arg} is not in your team")
    result = lookups.plan(message, parsed)
    if not result.sender_verified and result.ambiguous:
        sender = parsed.from_.email if parsed.from_ else "(none)"
        return Outcome(InboundStatus.UNVERIFIED, f"the sender {sender} is not your address")
    if result.ambiguous and deal is None:
        return Outcome(InboundStatus.REVIEW, result.reason)

    existing = lookups.existing_email(team.id, result.message_id)
    if existing is not None and existing.activity_id is not None:
        message.email_message_id = existing.id
        message.activity_id = existing.activity_id
        if deal is not None:
            activity = db.session.get(Activity, existing.activity_id)
            activity.deal_id = activity.deal_id or deal.id
        if recipient is not None and recipient.command == "task":
            _follow_up(team, user, existing.subject, _first_contact(existing.activity_id), deal)
        return Outcome(InboundStatus.PROCESSED, "already logged (sent in more than once)")

    # Only the user's own mail may create contacts; auto-forwarded mail could come from anyone.
    may_create = team.auto_create_contacts and result.sender_verified
    if may_create and authresults.blocks_new_contacts(team.require_sender_auth, message.auth):
        known = lookups.contacts_by_email(team.id, [a.email for a in result.participants])
        if any(a.email not in known for a in result.participants):
            return Outcome(InboundStatus.UNVERIFIED, authresults.hold_reason(message.auth))
    contacts, created, by_email = _contacts_for(team, result.participants, may_create, lookups)
    if not contacts and deal is None:
        why = "no known contact among " + ", ".join(a.email for a in result.participants[:5])
        if not team.auto_create_contacts:
            why += " (creating contacts is off)"
        return Outcome(InboundStatus.REVIEW, why)
    primary = (by_email.get(result.primary.email) if result.primary else None) or (
        contacts[0] if contacts else None
    )
    if deal is None and primary is not None and primary.id not in created:
        deal = lookups.single_open_deal(team.id, primary.id)
    activity = _log(
        message,
        parsed,
        result,
        contacts,
        primary=primary,
        deal=deal,
        by=user,
        lookups=lookups,
    )
    if recipient is not None and recipient.command == "task":
        _follow_up(team, user, result.subject, primary, deal)
    return Outcome(InboundStatus.PROCESSED, "" if activity else "nothing to log")


def _is_our_notice(parsed: ParsedMail) -> bool:
    """Our own notice, come back through a user's auto-forward filter: answering it would loop."""
    ours = parseaddr(current_app.config.get("MAIL_FROM") or "")[1].lower()
    return bool(ours) and parsed.from_ is not None and parsed.from_.email == ours


def _first_contact(activity_id: int) -> Contact | None:
    contact_id = db.session.scalar(
        select(ActivityContact.contact_id).where(ActivityContact.activity_id == activity_id)
    )
    return db.session.get(Contact, contact_id) if contact_id else None


def _contacts_for(
    team: Team, participants: list[Address], may_create: bool, lookups: Lookups
) -> tuple[list[Contact], set[int], dict[str, Contact]]:
    """Every participant's contact, matched by address; new ones for strangers if allowed."""
    found = lookups.contacts_by_email(team.id, [a.email for a in participants])
    contacts: list[Contact] = []
    created: set[int] = set()
    for address in participants:
        contact = found.get(address.email)
        if contact is None and may_create:
            contact = _new_contact(team, address, lookups)
            created.add(contact.id)
            found[address.email] = contact
            lookups.contacts[(team.id, address.email)] = contact
        if contact is not None and contact not in contacts:
            contacts.append(contact)
    return contacts, created, found


def _new_contact(team: Team, address: Address, lookups: Lookups) -> Contact:
    first, last = _split_name(address.name, address.email)
    domain = company_domain(address.email)
    company = None
    if domain:
        company = lookups.companies.get((team.id, domain)) or _company_for(team, domain)
        lookups.companies[(team.id, domain)] = company
    contact = Contact(
        team_id=team.id,
        first_name=first[:100],
        last_name=last[:100],
        sort_name=f"{first} {last}".strip().lower()[:201] or address.email,
        company_id=company.id if company else None,
        source="email-in",
    )
    contact.emails = [ContactEmail(team_id=team.id, email=address.email[:254])]
    db.session.add(contact)
    db.session.flush()
    return contact


def _split_name(name: str, email: str) -> tuple[str, str]:
    name = " ".join(name.replace('"', "").split())
    if "," in name:  # "Lee, Marcus"
        last, _, first = name.partition(",")
        return first.strip(), last.strip()
    if name and "@" not in name:
        first, _, last = name.partition(" ")
        return first, last
    local = email.partition("@")[0]
    parts = [p for p in re.split(r"[._-]+", local) if p and not p.isdigit()]
    if len(parts) >= 2:
        return parts[0].title(), " ".join(parts[1:]).title()
    return "", ""  # the contact is then shown by its address


def _company_for(team: Team, domain: str) -> Company:
    company = db.session.scalars(
        select(Company).where(
            Company.team_id == team.id, Company.domain == domain, Company.deleted_at.is_(None)
        )
    ).first()
    if company is None:
        label = domain.split(".")[0].replace("-", " ").title()
        company = Company(team_id=team.id, name=label, sort_name=label.lower(), domain=domain)
        db.session.add(company)
        db.session.flush()
    return company


def _single_open_deal(team_id: int, contact_id: int) -> Deal | None:
    deals = db.session.scalars(
        select(Deal)
        .join(deal_contact, deal_contact.c.deal_id == Deal.id)
        .where(
            deal_contact.c.contact_id == contact_id,
            Deal.team_id == team_id,
            Deal.status == DealStatus.OPEN,
            Deal.deleted_at.is_(None),
        )
        .limit(2)
    ).all()
    return deals[0] if len(deals) == 1 else None


# --- Writing the email, its attachments and the timeline entry ----------------------------------


def _log(
    message: InboundMessage,
    parsed: ParsedMail,
    result: Plan,
    contacts: list[Contact],
    *,
    primary: Contact | None,
    deal: Deal | None,
    by: User,
    lookups: Lookups,
) -> Activity:
    team_id = message.team_id
    existing = lookups.existing_email(team_id, result.message_id)
    if existing is not None and existing.activity_id is not None:
        activity = db.session.get(Activity, existing.activity_id)
        linked = {link.contact_id for link in activity.links}
        for contact in contacts:
            if contact.id not in linked:
                activity.links.append(
                    ActivityContact(contact_id=contact.id, occurred_at=activity.occurred_at)
                )
        message.email_message_id, message.activity_id = existing.id, activity.id
        return activity

    source = _source(parsed, result)
    visible, quoted = split_quoted(result.text or "")
    email = EmailMessage(
        team_id=team_id,
        message_id=result.message_id[:300],
        thread_key=lookups.thread_key(team_id, parsed, result)[:300],
        in_reply_to=(parsed.in_reply_to or "")[:300] or None,
        subject=(result.subject or "")[:300],
        from_addr=_addr(source["from"]),
        to_addrs=[_addr(a) for a in source["to"]],
        cc_addrs=[_addr(a) for a in source["cc"]],
        direction=result.direction,
        sent_at=result.occurred_at,
        text=visible.strip() or (result.text or "").strip(),
        quoted=quoted.strip() if visible.strip() else "",
        html=parsed.html if source["own"] else None,
        logged_by_id=by.id,
    )
    db.session.add(email)
    db.session.flush()
    lookups.logged(email)
    for attachment in source["attachments"]:
        db.session.add(_store_attachment(team_id, email.id, attachment))

    company_id = primary.company_id if primary else None
    if company_id is None and deal is not None:
        company_id = deal.company_id
    data = {
        "email_message_id": email.id,
        "direction": result.direction,
        "thread_key": email.thread_key,
        "participants": [_addr(a) for a in result.participants],
        "from": email.from_addr,
    }
    invite = parsed.calendar
    fields: dict = {}
    kind = ActivityKind.EMAIL
    subject = email.subject
    occurred_at = result.occurred_at or utcnow()
    if invite is not None and invite.start is not None:
        kind = ActivityKind.MEETING
        subject = ("Cancelled: " if invite.method == "CANCEL" else "") + (invite.summary or subject)
        occurred_at = invite.start
        fields = {"ends_at": invite.end, "location": (invite.location or "")[:300] or None}
        data["invite_uid"] = invite.uid
    activity = record(
        team_id=team_id,
        kind=kind,
        author_id=by.id,
        contact_ids=[c.id for c in contacts],
        company_id=company_id,
        deal_id=deal.id if deal else None,
        subject=subject[:300] or "(no subject)",
        body=email.text,
        occurred_at=occurred_at,
        data=data,
        touch=not lookups.defer_touches,
        **fields,
    )
    if lookups.defer_touches:
        when = activity.occurred_at
        lookups.touch("contact", team_id, [c.id for c in contacts], when)
        lookups.touch("company", team_id, [company_id], when)
        lookups.touch("deal", team_id, [deal.id if deal else None], when)
    db.session.flush()
    email.activity_id = activity.id
    message.email_message_id, message.activity_id = email.id, activity.id
    return activity


def _source(parsed: ParsedMail, result: Plan) -> dict:
    """Whose headers and files the logged email shows: the outer mail's or the forwarded one's."""
    if parsed.forwarded and result.text == parsed.forwarded[0].text:
        top = parsed.forwarded[0]
        files = [a for m in parsed.forwarded for a in m.attachments] + parsed.attachments
        return {"from": top.from_, "to": top.to, "cc": top.cc, "attachments": files, "own": False}
    if parsed.override_from is not None:
        return {
            "from": parsed.override_from,
            "to": parsed.from_ and [parsed.from_] or [],
            "cc": [],
            "attachments": parsed.attachments,
            "own": False,
        }
    return {
        "from": parsed.from_,
        "to": parsed.to,
        "cc": parsed.cc,
        "attachments": parsed.attachments,
        "own": True,
    }


def _addr(address: Address | None) -> dict | None:
    return {"name": address.name, "email": address.email} if address else None


def _thread_key(team_id: int, parsed: ParsedMail, result: Plan) -> str:
    """A thread is named by its root: an already-logged relative's key, else the first id seen."""
    related = [i[:300] for i in result.thread_ids]
    if related:
        known = db.session.scalar(
            select(EmailMessage.thread_key)
            .where(EmailMessage.team_id == team_id, EmailMessage.message_id.in_(related))
            .limit(1)
        )
        if known:
            return known
        return parsed.references[0] if parsed.references else related[0]
    # A reply logged before this message names this message's id as its thread.
    known = db.session.scalar(
        select(EmailMessage.thread_key)
        .where(EmailMessage.team_id == team_id, EmailMessage.in_reply_to == result.message_id)
        .limit(1)
    )
    return known or result.message_id


def attachment_path(team_id: int, sha256: str) -> Path:
    return Path(current_app.config["CRM_DATA_DIR"]) / "attachments" / str(team_id) / sha256


def _store_attachment(team_id: int, email_id: int, attachment: Attachment) -> EmailAttachment:
    limit = current_app.config.get("INBOUND_MAX_ATTACHMENT_BYTES", DEFAULT_ATTACHMENT_LIMIT)
    sha = attachment.sha256 or hashlib.sha256(attachment.data).hexdigest()
    stored = attachment.size <= limit
    if stored:
        path = attachment_path(team_id, sha)
        if not path.exists():  # once per team and content
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{sha}.{os.getpid()}.part")
            partial.write_bytes(attachment.data)
            os.replace(partial, path)
    return EmailAttachment(
        team_id=team_id,
        email_message_id=email_id,
        filename=(attachment.filename or "attachment")[:255],
        content_type=(attachment.content_type or "application/octet-stream")[:127],
        size=attachment.size,
        sha256=sha,
        stored=stored,
        inline=attachment.inline,
    )


# --- Follow-up tasks and notices ----------------------------------------------------------------


def _follow_up(
    team: Team, user: User, subject: str, contact: Contact | None, deal: Deal | None
) -> Task:
    zone = _zone(user.timezone)
    day = datetime.now(zone).date()
    added = 0
    while added < 2:
        day += timedelta(days=1)
        if day.weekday() < 5:
            added += 1
    due = datetime.combine(day, time(), tzinfo=zone)
    task = Task(
        team_id=team.id,
        title=f"Follow up: {subject or '(no subject)'}"[:300],
        due_at=due,
        all_day=True,
        assignee_id=user.id,
        created_by_id=user.id,
        contact_id=contact.id if contact else None,
        company_id=contact.company_id if contact else None,
        deal_id=deal.id if deal else None,
    )
    db.session.add(task)
    return task


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except Exception:
        return ZoneInfo("UTC")


def _queue_notice(message: InboundMessage, outcome: Outcome) -> OutboundEmail:
    # To the account address, never to the From: of a possibly forged message.
    return outbox.queue_email(
        to=message.user.email,
        subject=f"Rapport did not log: {message.subject or '(no subject)'}"[:300],
        template="inbound_notice",
        kind="inbound_notice",
        team_id=message.team_id,
        message=message,
        status=outcome.status.value,
        reason=outcome.reason,
        base_url=current_app.config.get("BASE_URL", ""),
    )


def held_count(user: User, team_id: int, everyone: bool) -> int:
    stmt = select(func.count(InboundMessage.id)).where(
        InboundMessage.team_id == team_id, InboundMessage.status.in_(HELD)
    )
    if not everyone:
        stmt = stmt.where(InboundMessage.user_id == user.id)
    return db.session.scalar(stmt) or 0
