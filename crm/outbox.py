"""The outbox: every email is a row before it is a job, so nothing is lost in flight.

queue_email() writes the row (the caller commits, then calls enqueue_pending()); the job
deliver() claims the row with a conditional UPDATE, so a row enqueued twice (by a sweep after a
lost queue, say) is still sent once. Without MAIL_SERVER the row is kept for admins to read.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from flask import current_app, render_template
from sqlalchemy import or_, select

from crm import queue
from crm.extensions import db
from crm.kernel import work
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
) -> OutboundEmail:
    """Add a mail written in Rapport (crm/outbound): its own From, Reply-To, recipients and
    headers; the caller commits, then enqueues."""
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
    )
    db.session.add(row)
    return row


def new_message_id() -> str:
    domain = current_app.config["BASE_URL"].split("//", 1)[-1].split(":")[0].split("/")[0]
    return make_msgid(domain=domain or "localhost")


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
    as the server accepted it (so a crash re-sends at most the one mail in flight)."""
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
    try:
        smtp = open_smtp(config)
    except (smtplib.SMTPException, OSError) as error:
        for row in rows:
            _failed(row, error)
        return len(rows)
    try:
        for row in rows:
            try:
                message = build_message(row, config)
            except Unbuildable as error:
                _unbuildable(row, error)
                continue
            try:
                smtp.send_message(message)
            except smtplib.SMTPServerDisconnected as error:
                _failed(row, error)
                smtp = open_smtp(config)
            except (smtplib.SMTPException, OSError) as error:
                _failed(row, error)
            else:
                _sent(row)
    except (smtplib.SMTPException, OSError) as error:  # reconnecting failed: try the rest later
        for row in rows:
            if row.status == OutboxStatus.SENDING:
                _failed(row, error)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
    return len(rows)


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
