"""Email out, the writes: compose and queue a mail from a record, templates, opt-out, replies.

compose() writes, in one transaction, the outbox row (the mail to send, with a Message-ID fixed
now so a retry sends the same one), the outgoing EmailMessage (threaded under that Message-ID,
so a reply through email-in lands on the same conversation) and one email Activity linked to
every recipient contact, the deal and the company; then it enqueues the send after commit.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from datetime import timedelta
from email.utils import formataddr, parseaddr

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from crm import outbox
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import attachments
from crm.kernel.filenames import clean_filename
from crm.kernel.timeline import record
from crm.models import (
    ActivityContact,
    ActivityKind,
    Company,
    Contact,
    Deal,
    EmailAttachment,
    EmailMessage,
    EmailTemplate,
    Membership,
    Team,
    User,
    utcnow,
)
from crm.outbound import merge
from crm.outbound.formatting import to_html
from crm.security import scoped

MAX_RECIPIENTS = 50
SUBJECT_MAX = 300
BODY_MAX = 100_000
MAX_FILES = 20
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


@dataclass(frozen=True)
class Upload:
    """A file a member attaches, as the browser sent it (name and type are only claims)."""

    filename: str
    content_type: str | None
    data: bytes


def size_label(n: int) -> str:
    """10 MB, 300 KB: a limit or a file's size as a person reads it."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    return f"{max(n // 1024, 1)} KB"


def attach(team_id: int, files: list[Upload]) -> list[dict]:
    """Check the files against the limits (each, all together), keep them in the attachment
    store and describe them for the outbox row; Invalid names the first file too large."""
    files = [f for f in files or () if f.filename or f.data]
    if not files:
        return []
    config = current_app.config
    each, total = config["OUTBOUND_MAX_ATTACHMENT_BYTES"], config["OUTBOUND_MAX_ATTACHMENTS_BYTES"]
    if len(files) > MAX_FILES:
        raise Invalid(f"Attach at most {MAX_FILES} files.", field="attachments")
    for upload in files:
        if len(upload.data) > each:
            name, size = clean_filename(upload.filename), size_label(len(upload.data))
            raise Invalid(
                f"{name} is {size}; each file may be at most {size_label(each)}."
                " Choose the files again.",
                field="attachments",
            )
    if (size := sum(len(f.data) for f in files)) > total:
        raise Invalid(
            f"The files come to {size_label(size)}; one mail may carry at most"
            f" {size_label(total)}. Choose the files again.",
            field="attachments",
        )
    described = []
    for upload in files:
        name = clean_filename(upload.filename)
        described.append(
            {
                "sha256": attachments.store(team_id, upload.data),
                "filename": name,
                "content_type": _content_type(upload.content_type, name),
                "size": len(upload.data),
            }
        )
    return described


def _content_type(claimed: str | None, filename: str) -> str:
    """The browser's type if it is a plain type/subtype, else a guess from the name."""
    value = (claimed or "").split(";", 1)[0].strip().lower()
    if not _CONTENT_TYPE.fullmatch(value) or value.startswith(("multipart/", "message/")):
        value = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return value[:127]


def senders(team: Team, user: User) -> list[tuple[str, str]]:
    """Who a member may send as: themselves, or the team sender configured in settings."""
    choices = [("me", formataddr((user.name or "", user.email)))]
    if team.outbound_sender:
        choices.append(("team", team.outbound_sender))
    return choices


def compose(
    *,
    team: Team,
    author: User,
    to_ids: list[int],
    cc_ids: list[int] = (),
    subject: str,
    body: str,
    sender: str = "me",
    company_id: int | None = None,
    deal_id: int | None = None,
    files: list[Upload] = (),
):
    """Queue one mail to contacts of the team and log it on their timelines; returns the
    Activity. Merge fields in the subject and body are filled from the first recipient.
    Attached files go to the attachment store; the outbox row names them (so a retry sends
    the same parts) and the logged email lists them (downloads on the timeline)."""
    subject, body = (subject or "").strip(), (body or "").rstrip()
    if not subject:
        raise Invalid("Write a subject.", field="subject")
    if len(subject) > SUBJECT_MAX:
        raise Invalid(f"Keep the subject under {SUBJECT_MAX} characters.", field="subject")
    if not body.strip():
        raise Invalid("Write a message.", field="body")
    if len(body) > BODY_MAX:
        raise Invalid("The message is too long.", field="body")
    to = _recipients(team.id, to_ids, "to")
    if not to:
        raise Invalid("Choose at least one recipient.", field="to")
    cc = [c for c in _recipients(team.id, cc_ids, "cc") if c.id not in {t.id for t in to}]
    if len(to) + len(cc) > MAX_RECIPIENTS:
        raise Invalid(f"Write to at most {MAX_RECIPIENTS} people at once.", field="to")
    deal = (
        db.session.scalar(scoped(Deal, team_id=team.id).where(Deal.id == deal_id))
        if deal_id
        else None
    )
    company = (
        db.session.scalar(scoped(Company, team_id=team.id).where(Company.id == company_id))
        if company_id
        else None
    )
    if company is None and deal is not None and deal.company_id:
        company = deal.company
    context = merge.context_for(to[0], company=company, deal=deal)
    subject = merge.render(subject, context, field="subject").strip()[:SUBJECT_MAX]
    text = merge.render(body, context, field="body")

    choices = dict(senders(team, author))
    if sender not in choices:
        raise Invalid("Choose who the mail is from.", field="sender")
    member = reply_address(team.id, author)
    files = attach(team.id, files)
    message_id = outbox.new_message_id()
    row = outbox.queue_composed(
        team_id=team.id,
        kind="compose",
        sender=choices[sender],
        reply_to=member,
        to=[_address(c) for c in to],
        cc=[_address(c) for c in cc],
        subject=subject,
        text=text,
        html=to_html(text),
        message_id=message_id,
        attachments=files,
    )
    now = utcnow()
    from_name, from_email = parseaddr(choices[sender])
    email = EmailMessage(
        team_id=team.id,
        # As email-in stores them (no angle brackets), so a reply's In-Reply-To finds this one.
        message_id=message_id.strip("<>")[:300],
        thread_key=message_id.strip("<>")[:300],
        subject=subject,
        from_addr={"name": from_name or None, "email": from_email},
        to_addrs=[{"name": c.name, "email": c.primary_email} for c in to],
        cc_addrs=[{"name": c.name, "email": c.primary_email} for c in cc],
        direction="outgoing",
        sent_at=now,
        text=text,
        html=row.body_html,
        logged_by_id=author.id,
    )
    email.attachments = [
        EmailAttachment(
            team_id=team.id,
            filename=f["filename"],
            content_type=f["content_type"],
            size=f["size"],
            sha256=f["sha256"],
        )
        for f in files
    ]
    db.session.add(email)
    db.session.flush()
    people = [*to, *cc]
    activity = record(
        team_id=team.id,
        kind=ActivityKind.EMAIL,
        author_id=author.id,
        contact_ids=[c.id for c in people],
        company_id=company.id if company else (to[0].company_id if to[0].company_id else None),
        deal_id=deal.id if deal else None,
        subject=subject or "(no subject)",
        body=text,
        occurred_at=now,
        data={
            "email_message_id": email.id,
            "direction": "outgoing",
            "thread_key": email.thread_key,
            "from": email.from_addr,
            "outbox_id": row.id,
        },
    )
    db.session.flush()
    email.activity_id = activity.id
    _mark_contacted(team.id, [c.id for c in people], now)
    db.session.commit()
    outbox.enqueue(row)
    return activity


def reply_address(team_id: int, user: User) -> str:
    """Reply-To: the member, and their email-in address when email-in is set up, so a reply
    reaches the member's mailbox and files itself on the same thread in Rapport."""
    member = formataddr((user.name or "", user.email))
    domain = current_app.config.get("INBOUND_DOMAIN")
    token = db.session.scalar(
        select(Membership.inbound_token).where(
            Membership.team_id == team_id, Membership.user_id == user.id
        )
    )
    if not domain or not token:
        return member
    return f"{member}, {formataddr(('Rapport', f'{token}@{domain}'))}"


def _recipients(team_id: int, ids, field: str) -> list[Contact]:
    ids = list(dict.fromkeys(int(i) for i in ids or ()))
    if not ids:
        return []
    found = {
        c.id: c
        for c in db.session.scalars(scoped(Contact, team_id=team_id).where(Contact.id.in_(ids)))
    }
    people = [found[i] for i in ids if i in found]
    if len(people) != len(ids):
        raise Invalid("A recipient is not in your team any more.", field=field)
    for person in people:
        if not person.primary_email:
            raise Invalid(f"{person.name} has no email address.", field=field)
    return people


def _address(contact: Contact) -> str:
    return formataddr((f"{contact.first_name} {contact.last_name}".strip(), contact.primary_email))


def _mark_contacted(team_id: int, contact_ids: list[int], when) -> None:
    db.session.execute(
        update(Contact)
        .where(
            Contact.team_id == team_id,
            Contact.id.in_(contact_ids),
            (Contact.last_contacted_at.is_(None)) | (Contact.last_contacted_at < when),
        )
        .values(last_contacted_at=when)
        .execution_options(synchronize_session=False)
    )


# Templates ------------------------------------------------------------------------------


def save_template(
    *,
    team_id: int,
    user: User,
    name: str,
    subject: str,
    body: str,
    personal: bool,
    template: EmailTemplate | None = None,
) -> EmailTemplate:
    """Create or update a template; refuses an unknown merge field before saving."""
    name, subject = (name or "").strip(), (subject or "").strip()
    if not name:
        raise Invalid("Give the template a name.", field="name")
    if not subject:
        raise Invalid("Write a subject.", field="subject")
    if not (body or "").strip():
        raise Invalid("Write a message.", field="body")
    merge.check(subject, "subject")
    merge.check(body, "body")
    if template is None:
        template = EmailTemplate(team_id=team_id)
        db.session.add(template)
    template.name, template.subject, template.body = name[:120], subject[:300], body
    template.owner_id = user.id if personal else None
    db.session.commit()
    return template


def delete_template(template: EmailTemplate) -> None:
    db.session.delete(template)
    db.session.commit()


def templates_for(team_id: int, user: User) -> list[EmailTemplate]:
    """The team's templates and this member's personal ones (never a teammate's)."""
    return list(
        db.session.scalars(
            scoped(EmailTemplate, team_id=team_id)
            .where((EmailTemplate.owner_id.is_(None)) | (EmailTemplate.owner_id == user.id))
            .order_by(EmailTemplate.name, EmailTemplate.id)
        )
    )


def preview(template: EmailTemplate, contact: Contact | None) -> dict:
    """The template rendered against a chosen contact (or sample data); Invalid names a field."""
    context = merge.context_for(contact) if contact is not None else merge.SAMPLE
    subject = merge.render(template.subject, context, field="subject")
    text = merge.render(template.body, context, field="body")
    return {"subject": subject, "text": text, "html": to_html(text)}


# Opt-out --------------------------------------------------------------------------------


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="rapport-unsubscribe")


def unsubscribe_token(team_id: int, contact_id: int) -> str:
    return _signer().dumps([team_id, contact_id])


def read_unsubscribe_token(token: str) -> tuple[int, int] | None:
    try:
        team_id, contact_id = _signer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return int(team_id), int(contact_id)


def unsubscribe_headers(team_id: int, contact_id: int) -> dict[str, str]:
    """RFC 8058 one-click headers for bulk and sequence mail: an https link and a mailto."""
    return unsubscribe_header_maker(team_id)(contact_id)


def unsubscribe_header_maker(team_id: int):
    """unsubscribe_headers() for many contacts of one team: the signer and the URL map are
    set up once (a bulk send makes thousands)."""
    signer = _signer()
    # Built from the URL map, not url_for: sweeps and jobs have no request.
    urls = current_app.url_map.bind("localhost")
    base = current_app.config["BASE_URL"]
    mailbox = parseaddr(current_app.config["MAIL_FROM"])[1] or "unsubscribe@localhost"

    def headers(contact_id: int) -> dict[str, str]:
        token = signer.dumps([team_id, contact_id])
        link = base + urls.build("outbound.unsubscribe", {"token": token})
        return {
            "List-Unsubscribe": f"<{link}>, <mailto:{mailbox}?subject=unsubscribe-{token}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    return headers


def unsubscribe(token: str) -> Contact | None:
    """Mark the token's contact as opted out (once); None when the token is not ours."""
    ids = read_unsubscribe_token(token)
    if ids is None:
        return None
    team_id, contact_id = ids
    contact = db.session.scalar(
        scoped(Contact, team_id=team_id, with_deleted=True).where(Contact.id == contact_id)
    )
    if contact is None:
        return None
    if contact.opted_out_at is None:
        contact.opted_out_at = utcnow()
        db.session.commit()
    return contact


# Replies --------------------------------------------------------------------------------

REPLY_WINDOW = timedelta(days=2)


def note_replies() -> int:
    """Sweep: an incoming mail on a thread Rapport started moves "last replied" forward on the
    contacts it was filed on. Idempotent (dates only move forward), so it may run every minute;
    it looks at mail logged in the last two days."""
    since = utcnow() - REPLY_WINDOW
    incoming = aliased(EmailMessage, name="incoming")
    rows = db.session.execute(
        select(incoming.team_id, ActivityContact.contact_id, incoming.created_at)
        .join(ActivityContact, ActivityContact.activity_id == incoming.activity_id)
        .where(
            incoming.direction == "incoming",
            incoming.created_at >= since,
            incoming.thread_key.in_(
                select(EmailMessage.thread_key)
                .where(
                    EmailMessage.direction == "outgoing", EmailMessage.team_id == incoming.team_id
                )
                .correlate(incoming)
            ),
        )
    ).all()
    changed = 0
    for team_id, contact_id, created_at in rows:
        # When Rapport received it: a sender's clock (the Date header) may be days off, and a
        # sequence stops on a reply that came after the enrolment.
        when = created_at
        changed += db.session.execute(
            update(Contact)
            .where(
                Contact.team_id == team_id,
                Contact.id == contact_id,
                (Contact.last_replied_at.is_(None)) | (Contact.last_replied_at < when),
            )
            .values(last_replied_at=when)
            .execution_options(synchronize_session=False)
        ).rowcount
    db.session.commit()
    return changed


def set_team_sender(team: Team, value: str) -> None:
    """The shared From members may choose ("Sales <sales@example.com>"); empty clears it."""
    value = (value or "").strip()
    if value:
        name, address = parseaddr(value)
        if "@" not in address or "." not in address.rpartition("@")[2]:
            raise Invalid("Write an address like Sales <sales@example.com>.", field="sender")
        value = formataddr((name, address))
    team.outbound_sender = value[:300] or None
    db.session.commit()
