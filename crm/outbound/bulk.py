"""Bulk send: one mail, rendered per person, to a saved list, a tag or a contact-list filter.

start() writes, in one transaction, a BulkSend, one BulkRecipient per person (queued with its
outbox row, or skipped and why: opted out, bouncing, no address), each queued person's
outgoing EmailMessage and email Activity (so replies thread and the mail is on their
timeline). The team's send rate is kept by giving the rows staggered `next_attempt_at` times,
after any bulk mail of the team still waiting; a delivery job sends the due rows in batches
over one SMTP connection and schedules itself for the next due row.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import formataddr
from urllib.parse import parse_qsl

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from crm import outbox, queue
from crm.contacts.queries import ContactFilters, contacts_query
from crm.custom_fields import views as saved_views
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel.timeline import record, record_many
from crm.models import (
    ActivityKind,
    BulkRecipient,
    BulkSend,
    Contact,
    EmailMessage,
    OutboundEmail,
    OutboxStatus,
    SavedView,
    Team,
    User,
    utcnow,
)
from crm.outbound import merge
from crm.outbound.formatting import to_html
from crm.outbound.services import reply_address, unsubscribe_header_maker

MAX_RECIPIENTS = 5000
BATCH = 50
OPTED_OUT, BOUNCING, NO_ADDRESS = "opted out", "bouncing", "no address"


def audience(team_id: int, filters: ContactFilters) -> list[Contact]:
    # Everything merge fields read, loaded up front: no query (and no autoflush) per person.
    stmt = contacts_query(team_id, filters).options(
        selectinload(Contact.emails), selectinload(Contact.company), selectinload(Contact.owner)
    )
    people = db.session.scalars(stmt.limit(MAX_RECIPIENTS + 1)).all()
    if len(people) > MAX_RECIPIENTS:
        raise Invalid(f"Send to at most {MAX_RECIPIENTS:,} people at once.", field="audience")
    return list(people)


def saved_lists(team_id: int, user_id: int) -> list[SavedView]:
    """The contact-list views a member can open (their own and the team's shared ones)."""
    return saved_views.visible(team_id, user_id, "contacts")


def saved_list_filters(view: SavedView) -> ContactFilters:
    """A saved list's audience: the contact list's own filters read from the view's query, so
    `audience()` gives exactly the people the list shows with that view."""
    return ContactFilters.from_args(MultiDict(parse_qsl(view.query or "")))


def skip_reason(contact: Contact) -> str | None:
    if contact.opted_out_at is not None:
        return OPTED_OUT
    if not contact.emails:
        return NO_ADDRESS
    if contact.emails[0].bouncing_at is not None:
        return BOUNCING
    return None


def preview(team: Team, filters: ContactFilters, subject: str, body: str) -> dict:
    """How many would get it, who is skipped and why, and three rendered mails."""
    _check(subject, body)
    people = audience(team.id, filters)
    skipped: dict[str, int] = {}
    samples = []
    for person in people:
        reason = skip_reason(person)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
        elif len(samples) < 3:
            context = merge.context_for(person)
            samples.append(
                {
                    "to": person.primary_email,
                    "subject": merge.render(subject, context, field="subject"),
                    "text": merge.render(body, context, field="body"),
                }
            )
    return {
        "count": len(people) - sum(skipped.values()),
        "skipped": skipped,
        "samples": samples,
    }


def _check(subject: str, body: str) -> None:
    if not (subject or "").strip():
        raise Invalid("Write a subject.", field="subject")
    if not (body or "").strip():
        raise Invalid("Write a message.", field="body")
    merge.check(subject, "subject")
    merge.check(body, "body")


def rate_per_minute(team_id: int) -> int:
    """The team's send rate: OUTBOUND_RATES {team_id: n} else OUTBOUND_RATE_PER_MINUTE."""
    config = current_app.config
    rates = config.get("OUTBOUND_RATES") or {}
    return int(rates.get(team_id) or config.get("OUTBOUND_RATE_PER_MINUTE") or 120)


def start(
    *,
    team: Team,
    author: User,
    filters: ContactFilters,
    label: str,
    subject: str,
    body: str,
) -> BulkSend:
    """Queue the mails (see the module docstring); returns the BulkSend, committed.

    Each template is compiled once (merge.py caches it) and rendered per person; the rows are
    written as batched INSERTs of plain dicts (outbox, logged email, timeline entry and link,
    recipient), not ORM objects: thousands of people cost a few statements per table.
    """
    _check(subject, body)
    people = audience(team.id, filters)
    now = utcnow()
    spacing = timedelta(seconds=60 / max(rate_per_minute(team.id), 1))
    first = _next_free_slot(team.id, now)
    bulk = BulkSend(
        team_id=team.id,
        author_id=author.id,
        audience=label[:200],
        subject=subject[:300],
        body=body,
        total=len(people),
    )
    db.session.add(bulk)
    db.session.flush()
    sender = formataddr((author.name or "", author.email))
    reply_to = reply_address(team.id, author)
    headers_for = unsubscribe_header_maker(team.id)
    recipients: list[dict] = []
    mails: list[dict] = []
    queued: list[tuple[Contact, dict]] = []
    for person in people:
        reason = skip_reason(person)
        recipient = {
            "bulk_send_id": bulk.id,
            "contact_id": person.id,
            "name": person.name[:300],
            "address": person.primary_email,
            "skipped": reason,
            "outbox_id": None,
        }
        recipients.append(recipient)
        if reason:
            continue
        context = merge.context_for(person)
        text = merge.render(body, context, field="body")
        mails.append(
            {
                "team_id": team.id,
                "kind": "bulk",
                "sender": sender,
                "reply_to": reply_to,
                "to": [formataddr((person.name, person.primary_email))],
                "subject": merge.render(subject, context, field="subject").strip()[:300],
                "text": text,
                "html": to_html(text),
                "headers": headers_for(person.id),
                "next_attempt_at": first + spacing * len(queued),
            }
        )
        queued.append((person, recipient))
    outbox_ids = outbox.queue_composed_many(mails)
    _log_outgoing_many(team.id, author, queued, mails, outbox_ids, now)
    for (_, recipient), outbox_id in zip(queued, outbox_ids, strict=True):
        recipient["outbox_id"] = outbox_id
    if recipients:
        db.session.execute(insert(BulkRecipient), recipients)
    ids = sorted(person.id for person, _ in queued)
    for chunk in range(0, len(ids), 500):
        db.session.execute(
            update(Contact)
            .where(Contact.team_id == team.id, Contact.id.in_(ids[chunk : chunk + 500]))
            .values(last_contacted_at=now, last_activity_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    if queued:
        queue.enqueue("jobs.outbound.deliver_bulk", bulk.id, job_id=f"bulk-{bulk.id}-first")
    return bulk


def _log_outgoing_many(team_id, author, queued, mails, outbox_ids, now) -> None:
    """log_outgoing() for every queued person at once: the outgoing EmailMessages (threaded
    under each mail's Message-ID) and their email Activities, linked both ways."""
    if not queued:
        return
    keys = [mail["message_id"].strip("<>")[:300] for mail in mails]
    email_ids = list(
        db.session.scalars(
            insert(EmailMessage).returning(EmailMessage.id, sort_by_parameter_order=True),
            [
                {
                    "team_id": team_id,
                    "message_id": key,
                    "thread_key": key,
                    "subject": mail["subject"],
                    "from_addr": {"name": author.name, "email": author.email},
                    "to_addrs": [{"name": person.name, "email": person.primary_email}],
                    "cc_addrs": [],
                    "direction": "outgoing",
                    "sent_at": now,
                    "text": mail["text"],
                    "html": mail["html"],
                    "logged_by_id": author.id,
                    "created_at": now,
                    "updated_at": now,
                }
                for (person, _), mail, key in zip(queued, mails, keys, strict=True)
            ],
        )
    )
    activity_ids = record_many(
        team_id=team_id,
        kind=ActivityKind.EMAIL,
        author_id=author.id,
        occurred_at=now,
        touch=False,  # one UPDATE for everyone at the end
        entries=[
            {
                "contact_ids": [person.id],
                "company_id": person.company_id,
                "subject": mail["subject"] or "(no subject)",
                "body": mail["text"],
                "data": {
                    "direction": "outgoing",
                    "thread_key": key,
                    "outbox_id": outbox_id,
                    "email_message_id": email_id,
                },
            }
            for (person, _), mail, key, outbox_id, email_id in zip(
                queued, mails, keys, outbox_ids, email_ids, strict=True
            )
        ],
    )
    db.session.execute(
        update(EmailMessage),
        [
            {"id": email_id, "activity_id": activity_id}
            for email_id, activity_id in zip(email_ids, activity_ids, strict=True)
        ],
    )


def log_outgoing(team_id, author, person, row, subject, text, now):
    """The outgoing EmailMessage and email Activity of one queued mail to one person (the
    caller flushes, then links them; see start())."""
    message_id = row.message_id.strip("<>")[:300]
    email = EmailMessage(
        team_id=team_id,
        message_id=message_id,
        thread_key=message_id,
        subject=subject,
        from_addr={"name": author.name, "email": author.email},
        to_addrs=[{"name": person.name, "email": person.primary_email}],
        cc_addrs=[],
        direction="outgoing",
        sent_at=now,
        text=text,
        html=row.body_html,
        logged_by_id=author.id,
    )
    activity = record(
        team_id=team_id,
        kind=ActivityKind.EMAIL,
        author_id=author.id,
        contact_ids=[person.id],
        company_id=person.company_id,
        subject=subject or "(no subject)",
        body=text,
        occurred_at=now,
        data={"direction": "outgoing", "thread_key": message_id, "outbox_id": row.id},
        touch=False,  # one UPDATE for everyone at the end
    )
    db.session.add(email)
    return email, activity


def _next_free_slot(team_id: int, now):
    """After the team's last bulk mail still waiting, so two bulk sends share one rate."""
    last = db.session.scalar(
        select(func.max(OutboundEmail.next_attempt_at)).where(
            OutboundEmail.team_id == team_id,
            OutboundEmail.kind == "bulk",
            OutboundEmail.status == OutboxStatus.PENDING,
        )
    )
    return max(last, now) if last else now


def deliver(bulk_id: int) -> int:
    """Job: send this bulk send's due rows in batches; schedule itself for the next due row."""
    sent = 0
    while True:
        now = utcnow()
        ids = db.session.scalars(
            select(OutboundEmail.id)
            .join(BulkRecipient, BulkRecipient.outbox_id == OutboundEmail.id)
            .where(
                BulkRecipient.bulk_send_id == bulk_id,
                OutboundEmail.status == OutboxStatus.PENDING,
                OutboundEmail.next_attempt_at <= now,
            )
            .order_by(OutboundEmail.id)
            .limit(BATCH)
        ).all()
        if not ids:
            break
        sent += outbox.deliver_batch(list(ids))
    following = db.session.scalar(
        select(func.min(OutboundEmail.next_attempt_at))
        .join(BulkRecipient, BulkRecipient.outbox_id == OutboundEmail.id)
        .where(BulkRecipient.bulk_send_id == bulk_id, OutboundEmail.status == OutboxStatus.PENDING)
    )
    if following is not None:
        queue.enqueue(
            "jobs.outbound.deliver_bulk",
            bulk_id,
            at=following,
            job_id=f"bulk-{bulk_id}-{int(following.timestamp())}",
        )
    return sent


def progress(bulk: BulkSend) -> dict:
    """Counts for the progress bar and the result list: sent, queued, failed, skipped."""
    counts = dict(
        db.session.execute(
            select(OutboundEmail.status, func.count())
            .join(BulkRecipient, BulkRecipient.outbox_id == OutboundEmail.id)
            .where(BulkRecipient.bulk_send_id == bulk.id)
            .group_by(OutboundEmail.status)
        ).all()
    )
    skipped = db.session.scalar(
        select(func.count())
        .select_from(BulkRecipient)
        .where(BulkRecipient.bulk_send_id == bulk.id, BulkRecipient.skipped.is_not(None))
    )
    sent = counts.get(OutboxStatus.SENT, 0) + counts.get(OutboxStatus.KEPT, 0)
    failed = counts.get(OutboxStatus.FAILED, 0)
    waiting = counts.get(OutboxStatus.PENDING, 0) + counts.get(OutboxStatus.SENDING, 0)
    done = sent + failed + skipped
    return {
        "sent": sent,
        "failed": failed,
        "waiting": waiting,
        "skipped": skipped,
        "total": bulk.total,
        "percent": int(100 * done / bulk.total) if bulk.total else 100,
        "finished": waiting == 0,
    }
