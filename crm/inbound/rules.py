"""What happens to one inbound message: logged on the timeline, held for review, or rejected.

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

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import select

from crm import outbox
from crm.extensions import db
from crm.inbound import authresults, filing
from crm.inbound.lookups import Lookups
from crm.inbound.mailtypes import Address, ParsedMail
from crm.inbound.routing import company_domain, parse_recipient
from crm.kernel import companies, dates, events
from crm.models import (
    Activity,
    ActivityContact,
    Company,
    Contact,
    ContactEmail,
    Deal,
    InboundMessage,
    InboundStatus,
    OutboundEmail,
    Task,
    Team,
    User,
)

NO_NOTICE_REASONS = ("auto-reply", "bounce")
_LOCAL_COMMAND = re.compile(r"^[^+@]+\+([^@]*)@")


@dataclass
class Outcome:
    status: InboundStatus
    reason: str = ""


def decide(message: InboundMessage, parsed: ParsedMail, lookups: Lookups) -> Outcome:
    """The outcome of one claimed message under rules 2-5 above; logging it writes through
    `filing` (inside the caller's savepoint)."""
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
    activity = filing.log_email(
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
    events.emit("contact.created", team_id=team.id, record_type="contact", record_id=contact.id)
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
    """The team's company with this mail domain, created (and audited) under its label."""
    label = domain.split(".")[0].replace("-", " ").title()
    return companies.find_or_create(team.id, None, label, domain=domain, match="domain")


# --- Follow-up tasks and notices ----------------------------------------------------------------


def _follow_up(
    team: Team, user: User, subject: str, contact: Contact | None, deal: Deal | None
) -> Task:
    zone = dates.zone(user.timezone)
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


def queue_notice(message: InboundMessage, outcome: Outcome) -> OutboundEmail:
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
