"""Work in flight for email: the outbox and the raw inbound log."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.base import Timestamps, UTCDateTime


def _enum(cls):
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


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
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboundStatus(enum.StrEnum):
    RECEIVED = "received"  # stored raw, waiting for the processing job
    PROCESSED = "processed"
    UNVERIFIED = "unverified"  # held for review
    REVIEW = "review"  # could not be matched with confidence
    REJECTED = "rejected"
    FAILED = "failed"  # the processor raised; retryable from the inbound log


class InboundMessage(Timestamps, db.Model):
    __tablename__ = "inbound_message"
    __table_args__ = (Index("ix_inbound_message_team_created", "team_id", "created_at"),)

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
        _enum(InboundStatus), default=InboundStatus.RECEIVED, index=True
    )
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
