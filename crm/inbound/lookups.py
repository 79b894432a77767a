"""What processing a batch of inbound mail reads, read once per batch (users, teams, teammates,
never-log lists, contacts by address, already-logged Message-IDs, thread keys, open deals), and
the last-activity moves the batch applies once before its commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from crm.extensions import db
from crm.inbound.mailtypes import ParsedMail
from crm.inbound.routing import Plan, plan
from crm.models import (
    Company,
    Contact,
    ContactEmail,
    Deal,
    DealStatus,
    EmailMessage,
    InboundMessage,
    Membership,
    NeverLog,
    Team,
    User,
    deal_contact,
)


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
        """Thread keys of the batch's relatives, both ways, in two queries (see thread_key_of)."""
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
            return single_open_deal_of(team_id, contact_id)
        deals = self.open_deals[contact_id]
        return deals[0] if len(deals) == 1 else None

    def thread_key(self, team_id: int, parsed: ParsedMail, result: Plan) -> str:
        if team_id not in self.threads_known:
            return thread_key_of(team_id, parsed, result)
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


def single_open_deal_of(team_id: int, contact_id: int) -> Deal | None:
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


def thread_key_of(team_id: int, parsed: ParsedMail, result: Plan) -> str:
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
