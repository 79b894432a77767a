"""Work in flight for email: the outbox and the raw inbound log."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import TeamOwned, Timestamps, UTCDateTime, str_enum


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for a worker
    SENDING = "sending"  # claimed by a worker; a sweep reclaims it if the worker died
    SENT = "sent"  # handed to the SMTP server
    KEPT = "kept"  # no MAIL_SERVER configured: kept here for admins to read
    FAILED = "failed"  # gave up after the last retry


class OutboundEmail(Timestamps, db.Model):
    __tablename__ = "outbound_email"
    __table_args__ = (Index("ix_outbound_email_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Nullable: password-reset mail belongs to a user, not to a team.
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, 16), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Composed mail (crm/outbound): the sender, Reply-To, every recipient {"to": [...],
    # "cc": [...]} and extra headers (List-Unsubscribe, In-Reply-To, ...). None: MAIL_FROM and
    # to_addr, as for the app's own mail.
    from_addr: Mapped[str | None] = mapped_column(String(300))
    reply_to: Mapped[str | None] = mapped_column(String(300))
    recipients: Mapped[dict | None] = mapped_column(JSON)
    headers: Mapped[dict | None] = mapped_column(JSON)
    # Files a member attached: [{"sha256", "filename", "content_type", "size"}], the bytes in
    # the attachment store (crm/kernel/attachments.py), so every attempt sends the same parts.
    attachments: Mapped[list | None] = mapped_column(JSON)


class InboundStatus(enum.StrEnum):
    RECEIVED = "received"  # stored raw, waiting for the processing job
    PROCESSING = "processing"  # claimed by a worker's batch; a sweep reclaims it if it died
    PROCESSED = "processed"
    UNVERIFIED = "unverified"  # held for review
    REVIEW = "review"  # could not be matched with confidence
    REJECTED = "rejected"
    FAILED = "failed"  # the processor raised; retryable from the inbound log


class InboundMessage(Timestamps, db.Model):
    __tablename__ = "inbound_message"
    __table_args__ = (
        Index("ix_inbound_message_team_created", "team_id", "created_at"),
        Index("ix_inbound_message_team_status", "team_id", "status", "id"),
        Index("ix_inbound_message_user_status", "user_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    via: Mapped[str] = mapped_column(String(8))  # smtp | http
    envelope_from: Mapped[str | None] = mapped_column(String(254))
    envelope_to: Mapped[str] = mapped_column(String(254))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column()
    status: Mapped[InboundStatus] = mapped_column(
        str_enum(InboundStatus, 16), default=InboundStatus.RECEIVED, index=True
    )
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Filled by processing: what the log shows without re-parsing the raw bytes.
    subject: Mapped[str | None] = mapped_column(String(300))
    from_addr: Mapped[str | None] = mapped_column(String(254))
    reason: Mapped[str | None] = mapped_column(String(300))  # why held or rejected
    # Sender authentication (crm/inbound/authresults.py): {"spf", "dkim", "dmarc", "source", …}.
    auth: Mapped[dict | None] = mapped_column(JSON)
    email_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_message.id", ondelete="SET NULL")
    )
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))

    user = relationship("User")
    email_message = relationship("EmailMessage", foreign_keys=[email_message_id])


class EmailMessage(TeamOwned, Timestamps, db.Model):
    """One logged email, once per team however many teammates sent it in."""

    __tablename__ = "email_message"
    __table_args__ = (
        UniqueConstraint("team_id", "message_id"),
        Index("ix_email_message_thread", "team_id", "thread_key", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(300))
    thread_key: Mapped[str] = mapped_column(String(300))
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300), default="")
    from_addr: Mapped[dict | None] = mapped_column(JSON)  # {"name", "email"}
    to_addrs: Mapped[list] = mapped_column(JSON, default=list)
    cc_addrs: Mapped[list] = mapped_column(JSON, default=list)
    direction: Mapped[str] = mapped_column(String(10))  # outgoing | incoming
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text, default="")  # the visible part
    quoted: Mapped[str] = mapped_column(Text, default="")  # quoted replies and signatures, folded
    html: Mapped[str | None] = mapped_column(Text)  # sanitized with nh3
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activity.id", ondelete="SET NULL"), index=True
    )
    logged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    attachments: Mapped[list[EmailAttachment]] = relationship(
        back_populates="email_message", order_by="EmailAttachment.id"
    )


class EmailAttachment(TeamOwned, db.Model):
    """A file of a logged email; its bytes live once per team and hash on disk."""

    __tablename__ = "email_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_message_id: Mapped[int] = mapped_column(
        ForeignKey("email_message.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stored: Mapped[bool] = mapped_column(default=True)  # False: over the size limit, listed only
    inline: Mapped[bool] = mapped_column(default=False)

    email_message: Mapped[EmailMessage] = relationship(back_populates="attachments")


class NeverLog(TeamOwned, Timestamps, db.Model):
    """An address (a@b.com) or a domain (b.com, subdomains included) never logged by email-in."""

    __tablename__ = "never_log"
    __table_args__ = (UniqueConstraint("team_id", "pattern"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pattern: Mapped[str] = mapped_column(String(254))


class EmailTemplate(TeamOwned, Timestamps, db.Model):
    """Wording to reuse: a team template (owner_id None) or a member's personal one."""

    __tablename__ = "email_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
