"""Writing a processed inbound message: its EmailMessage (once per team and Message-ID), its
attachments (stored once per team and content) and its timeline entry."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import current_app

from crm.extensions import db
from crm.inbound.lookups import Lookups
from crm.inbound.mailtypes import Address, Attachment, ParsedMail
from crm.inbound.parsing import split_quoted
from crm.inbound.routing import Plan
from crm.kernel import attachments, events
from crm.kernel.timeline import record
from crm.models import (
    Activity,
    ActivityContact,
    ActivityKind,
    Contact,
    Deal,
    EmailAttachment,
    EmailMessage,
    InboundMessage,
    User,
    utcnow,
)

DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024


def log_email(
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
    events.emit(
        "email.logged",
        team_id=team_id,
        record_type="activity",
        record_id=activity.id,
        actor_id=by.id,
    )
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


def attachment_path(team_id: int, sha256: str) -> Path:
    return attachments.path(team_id, sha256)


def _store_attachment(team_id: int, email_id: int, attachment: Attachment) -> EmailAttachment:
    limit = current_app.config.get("INBOUND_MAX_ATTACHMENT_BYTES", DEFAULT_ATTACHMENT_LIMIT)
    sha = attachment.sha256 or hashlib.sha256(attachment.data).hexdigest()
    stored = attachment.size <= limit
    if stored:
        attachments.store(team_id, attachment.data, sha)  # once per team and content
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
