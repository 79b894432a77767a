"""The outbox: every email is a row before it is a job, so nothing is lost in flight.

queue_email() writes the row (the caller commits, then calls enqueue_pending()); the job
deliver() claims the row with a conditional UPDATE, so a row enqueued twice (by a sweep after a
lost queue, say) is still sent once. Without MAIL_SERVER the row is kept for admins to read.
"""

from __future__ import annotations

import logging
import re
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from email.charset import QP, Charset
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import formataddr, formatdate, getaddresses, make_msgid

from flask import current_app, render_template
from sqlalchemy import insert, or_, select, update

from crm import queue
from crm.extensions import db
from crm.kernel import attachments, work
from crm.models import OutboundEmail, OutboxStatus, utcnow

log = logging.getLogger(__name__)
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
MAX_ATTEMPTS = len(BACKOFF) + 1
STALE_CLAIM = timedelta(minutes=10)


def queue_email(
    *, to: str, subject: str, template: str, kind: str, team_id: int | None = None, **context
) -> OutboundEmail:
    """Add an email rendered from templates/email/<template>.txt (and .html if present)."""
    text = render_template(f"email/{template}.txt", **context)
    try:
        html = render_template(f"email/{template}.html", **context)
    except Exception:  # the HTML part is optional
        html = None
    domain = current_app.config["BASE_URL"].split("//", 1)[-1].split(":")[0].split("/")[0]
    row = OutboundEmail(
        team_id=team_id,
        kind=kind,
        to_addr=to,
        subject=subject,
        body_text=text,
        body_html=html,
        message_id=make_msgid(domain=domain or "localhost"),
    )
    db.session.add(row)
    return row


def queue_composed(
    *,
    team_id: int,
    kind: str,
    sender: str,
    reply_to: str | None,
    to: list[str],
    cc: list[str] = (),
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
    attachments: list[dict] | None = None,
) -> OutboundEmail:
    """Add a mail written in Rapport (crm/outbound): its own From, Reply-To, recipients,
    headers and files (already in the attachment store: [{"sha256", "filename",
    "content_type", "size"}]); the caller commits, then enqueues."""
    row = OutboundEmail(
        team_id=team_id,
        kind=kind,
        to_addr=(to[0] if to else "")[:254],
        subject=subject[:300],
        body_text=text,
        body_html=html,
        message_id=message_id or new_message_id(),
        from_addr=sender[:300],
        reply_to=(reply_to or "")[:300] or None,
        recipients={"to": list(to), "cc": list(cc)},
        headers=headers or None,
        attachments=attachments or None,
    )
    db.session.add(row)
    return row


def queue_composed_many(mails: list[dict]) -> list[int]:
    """Many composed mails at once (a bulk send): each a dict of queue_composed()'s keyword
    arguments plus `next_attempt_at`, written as batched INSERTs without ORM objects; fills in
    each dict's "message_id" (fixed now, like queue_composed()) and returns the row ids in
    order. The caller commits, then enqueues."""
    if not mails:
        return []
    now = utcnow()
    domain = _domain()
    rows = []
    for mail in mails:
        mail.setdefault("message_id", make_msgid(domain=domain))
        to = list(mail["to"])
        rows.append(
            {
                "team_id": mail["team_id"],
                "kind": mail["kind"],
                "to_addr": (to[0] if to else "")[:254],
                "subject": mail["subject"][:300],
                "body_text": mail["text"],
                "body_html": mail.get("html"),
                "message_id": mail["message_id"],
                "from_addr": mail["sender"][:300],
                "reply_to": (mail.get("reply_to") or "")[:300] or None,
                "recipients": {"to": to, "cc": list(mail.get("cc") or ())},
                "headers": mail.get("headers") or None,
                "attachments": mail.get("attachments") or None,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": mail.get("next_attempt_at"),
                "created_at": now,
                "updated_at": now,
            }
        )
    return list(
        db.session.scalars(
            insert(OutboundEmail).returning(OutboundEmail.id, sort_by_parameter_order=True), rows
        )
    )


def _domain() -> str:
    domain = current_app.config["BASE_URL"].split("//", 1)[-1].split(":")[0].split("/")[0]
    return domain or "localhost"


def new_message_id() -> str:
    return make_msgid(domain=_domain())


def enqueue(row: OutboundEmail) -> None:
    """Hand a committed outbox row to the worker."""
    queue.enqueue("jobs.email.send_email", row.id, job_id=f"send-email-{row.id}")


def enqueue_many(rows) -> None:
    """Hand many committed outbox rows to the worker in one round trip (a batch's notices)."""
    queue.enqueue_many("jobs.email.send_email", [((r.id,), f"send-email-{r.id}") for r in rows])


def deliver(outbox_id: int) -> OutboxStatus | None:
    """Send one outbox row if it is still pending and due; returns its new status."""
    now = utcnow()
    claimed = work.claim(
        OutboundEmail,
        outbox_id,
        OutboundEmail.status == OutboxStatus.PENDING,
        _due(now),
        values={"status": OutboxStatus.SENDING, "claimed_at": now},
    )
    if not claimed:
        return None  # sent already, claimed by another worker, or not due yet
    row = db.session.get(OutboundEmail, outbox_id)
    config = current_app.config
    try:
        message = build_message(row, config)
    except Unbuildable as error:
        return _unbuildable(row, error)
    if not config.get("MAIL_SERVER"):
        row.status = OutboxStatus.KEPT
        db.session.commit()
        # On a laptop this is how a reset or invitation link reaches the person running it.
        # Mail of no team (a password reset) is on no outbox page: the log is its only copy,
        # so it is a warning, shown at every log level a self-hoster would choose.
        log.log(
            logging.INFO if row.team_id else logging.WARNING,
            "Mail kept in the outbox (no MAIL_SERVER): to %s, %r\n%s",
            row.to_addr,
            row.subject,
            row.body_text,
        )
        return row.status
    try:
        _smtp_send(message, config)
    except (smtplib.SMTPException, OSError) as error:
        return _failed(row, error)
    _sent(row)
    return row.status


def _sent(row: OutboundEmail) -> None:
    row.status, row.sent_at, row.attempts = OutboxStatus.SENT, utcnow(), row.attempts + 1
    row.last_error = None
    db.session.commit()


def _failed(row: OutboundEmail, error: Exception, *, requeue: bool = True) -> OutboxStatus:
    """Record a failed attempt: retried later with backoff, or failed for good."""
    row.attempts += 1
    row.last_error = f"{type(error).__name__}: {error}"[:2000]
    if row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.FAILED
    else:
        row.status = OutboxStatus.PENDING
        row.next_attempt_at = utcnow() + BACKOFF[row.attempts - 1]
    db.session.commit()
    if requeue and row.status == OutboxStatus.PENDING:
        queue.enqueue("jobs.email.send_email", row.id, at=row.next_attempt_at)
    return row.status


def deliver_batch(ids: list[int]) -> int:
    """Send the due, pending rows among `ids` over one SMTP connection; returns how many were
    handled. Each row is claimed (so a row is never sent by two workers) and committed as soon
    as the server accepted it (so a crash re-sends at most the one mail in flight).

    Every message is built and serialized once, from the rows read in one SELECT, before the
    first commit; marking a row sent is then one UPDATE by id (no ORM reload per row)."""
    now = utcnow()
    claimed = work.claim_batch(
        OutboundEmail,
        OutboundEmail.status == OutboxStatus.PENDING,
        _due(now),
        values={"status": OutboxStatus.SENDING, "claimed_at": now},
        limit=len(ids),
        ids=ids,
    )
    if not claimed:
        return 0
    rows = db.session.scalars(
        select(OutboundEmail).where(OutboundEmail.id.in_(claimed)).order_by(OutboundEmail.id)
    ).all()
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        for row in rows:
            row.status = OutboxStatus.KEPT
        db.session.commit()
        return len(rows)
    ready, broken = [], []
    for row in rows:
        try:
            ready.append(prepare(row, config))
        except Unbuildable as error:
            broken.append((row, error))
    for mail in ready:
        # Done with the objects: each commit below would otherwise expire the whole batch.
        db.session.expunge(db.session.get(OutboundEmail, mail.outbox_id))
    for row, error in broken:
        _unbuildable(row, error)
    pending = {mail.outbox_id for mail in ready}
    try:
        smtp = open_smtp(config)
    except (smtplib.SMTPException, OSError) as error:
        _fail_ids(pending, error)
        return len(rows)
    try:
        for mail in ready:
            try:
                smtp.sendmail(mail.sender, mail.recipients, mail.data, mail.options)
            except smtplib.SMTPServerDisconnected as error:
                _fail_ids([mail.outbox_id], error)
                smtp = open_smtp(config)
            except (smtplib.SMTPException, OSError) as error:
                _fail_ids([mail.outbox_id], error)
            else:
                _mark_sent(mail.outbox_id)
            pending.discard(mail.outbox_id)
    except (smtplib.SMTPException, OSError) as error:  # reconnecting failed: try the rest later
        _fail_ids(pending, error)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
    return len(rows)


def _mark_sent(outbox_id: int) -> None:
    """_sent() by id: one UPDATE and the commit that records the server's acceptance."""
    db.session.execute(
        update(OutboundEmail)
        .where(OutboundEmail.id == outbox_id)
        .values(
            status=OutboxStatus.SENT,
            sent_at=utcnow(),
            attempts=OutboundEmail.attempts + 1,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _fail_ids(ids, error: Exception) -> None:
    for outbox_id in sorted(ids):
        row = db.session.get(OutboundEmail, outbox_id)
        if row is not None and row.status == OutboxStatus.SENDING:
            _failed(row, error)


@dataclass(frozen=True)
class Prepared:
    """An outbox row ready for SMTP: the envelope and the message's bytes."""

    outbox_id: int
    sender: str
    recipients: list[str]
    data: bytes
    options: tuple[str, ...] = ()


def prepare(row: OutboundEmail, config) -> Prepared:
    """build_message() serialized once, with its envelope (as smtplib's send_message() would
    take it from the headers); Unbuildable with the reason."""
    plain = _plain(row, config)
    if plain is not None:
        return plain
    try:
        message = _compose(row, config)
        sender = getaddresses([str(message["Sender"] or message["From"])])[0][1]
        headers = [str(h) for name in ("To", "Cc") for h in message.get_all(name, [])]
        recipients = [address for _, address in getaddresses(headers) if address]
        if not recipients:
            raise ValueError("the mail has no recipient address")
        international = not all(a.isascii() for a in (sender, *recipients))
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n", utf8=international))
    except Exception as error:  # whatever the email package raises, the row is at fault
        raise Unbuildable(f"{type(error).__name__}: {error}") from error
    return Prepared(row.id, sender, recipients, data, ("SMTPUTF8",) if international else ())


class Unbuildable(ValueError):
    """An outbox row that cannot become a message; sending it again would fail the same way."""


def _unbuildable(row: OutboundEmail, error: Unbuildable) -> OutboxStatus:
    """Retrying cannot fix the row itself: fail it now, with the reason, for admins to see."""
    row.status = OutboxStatus.FAILED
    row.last_error = f"Cannot build the message: {error}"[:2000]
    db.session.commit()
    log.warning("Outbox row %s failed: %s", row.id, row.last_error)
    return row.status


def build_message(row: OutboundEmail, config) -> EmailMessage:
    """The message for an outbox row, serialized once to prove it can be, or Unbuildable with
    the reason. Every way a row can fail to become bytes (a header with a line break, an
    address the parser refuses, text the encoder cannot write) fails here, and only here."""
    try:
        message = _compose(row, config)
        message.as_bytes()
    except Exception as error:  # whatever the email package raises, the row is at fault
        raise Unbuildable(f"{type(error).__name__}: {error}") from error
    return message


_QP_UTF8 = Charset("utf-8")
_QP_UTF8.body_encoding = QP
_ENVELOPE_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
_WIRE = compat32.clone(linesep="\r\n")


def _plain(row: OutboundEmail, config) -> Prepared | None:
    """The common mail (every header plain ASCII on one line, no files) built the cheap way:
    the legacy email API takes header text as it is, where the default policy parses and
    refolds each header (about 4 of every 5 ms a mail costs). None: build it the full way,
    which encodes, checks and refuses what this does not handle."""
    recipients = row.recipients or {}
    to = recipients.get("to") or [row.to_addr]
    cc = recipients.get("cc") or []
    headers = [("From", row.from_addr or config["MAIL_FROM"]), ("To", ", ".join(to))]
    if cc:
        headers.append(("Cc", ", ".join(cc)))
    if row.reply_to:
        headers.append(("Reply-To", row.reply_to))
    headers += [("Subject", row.subject), ("Message-ID", row.message_id)]
    headers += list((row.headers or {}).items())
    if row.attachments or not all(value.isascii() and value.isprintable() for _, value in headers):
        return None
    sender = getaddresses([headers[0][1]])
    envelope = [address for _, address in getaddresses([*to, *cc])]
    if len(sender) != 1 or not envelope:
        return None
    if not all(_ENVELOPE_ADDRESS.fullmatch(a) for a in (sender[0][1], *envelope)):
        return None
    text = _text_part(row.body_text, "plain")
    message = (
        MIMEMultipart("alternative", _subparts=[text, _text_part(row.body_html, "html")])
        if row.body_html
        else text
    )
    for name, value in headers:
        message[name] = value
    message["Date"] = formatdate(localtime=False)
    return Prepared(row.id, sender[0][1], envelope, message.as_bytes(policy=_WIRE))


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part.set_payload(text, _QP_UTF8)
    return part


def _compose(row: OutboundEmail, config) -> EmailMessage:
    """The MIME message of an outbox row, the same bytes on every attempt but the Date."""
    message = EmailMessage()
    recipients = row.recipients or {}
    message["From"] = row.from_addr or config["MAIL_FROM"]
    message["To"] = ", ".join(recipients.get("to") or [row.to_addr])
    if recipients.get("cc"):
        message["Cc"] = ", ".join(recipients["cc"])
    if row.reply_to:
        message["Reply-To"] = row.reply_to
    message["Subject"] = row.subject
    # A stable Message-ID: if a crash makes us send twice, mail clients fold the copies.
    message["Message-ID"] = row.message_id
    message["Date"] = formatdate(localtime=False)
    for name, value in (row.headers or {}).items():
        message[name] = value
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    for part in row.attachments or ():
        data = attachments.read(row.team_id, part["sha256"])
        if data is None:
            raise LookupError(f"the attached file {part['filename']!r} is not in the store")
        maintype, _, subtype = part["content_type"].partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=part["filename"])
    return message


def _smtp_send(message: EmailMessage, config) -> None:
    with open_smtp(config) as smtp:
        smtp.send_message(message)


def open_smtp(config) -> smtplib.SMTP:
    """A connection to MAIL_SERVER, logged in; callers may send several messages on it."""
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30)
    if config.get("MAIL_USE_TLS"):
        smtp.starttls()
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    return smtp


def _due(now):
    return or_(OutboundEmail.next_attempt_at.is_(None), OutboundEmail.next_attempt_at <= now)


def sweep() -> int:
    """Re-enqueue due pending rows and reclaim rows whose worker died mid-send."""
    now = utcnow()
    work.reclaim(
        OutboundEmail,
        OutboundEmail.status == OutboxStatus.SENDING,
        work.stale(OutboundEmail.claimed_at, STALE_CLAIM, now),
        values={"status": OutboxStatus.PENDING},
    )
    return work.requeue(
        OutboundEmail,
        OutboundEmail.status == OutboxStatus.PENDING,
        _due(now),
        enqueue=lambda outbox_id: queue.enqueue(
            "jobs.email.send_email", outbox_id, job_id=f"send-email-{outbox_id}"
        ),
    )


def address(name: str | None, email: str) -> str:
    return formataddr((name or "", email))
