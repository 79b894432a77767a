"""Email out: bulk sends and their recipients, sequences, their steps and enrolments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import TeamOwned, Timestamps, UTCDateTime


class BulkSend(TeamOwned, Timestamps, db.Model):
    """One mail to many contacts (a tag): the rendered mails are outbox rows, one per person."""

    __tablename__ = "bulk_send"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    audience: Mapped[str] = mapped_column(String(200))  # what the member chose, for the page
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    total: Mapped[int] = mapped_column(default=0)

    recipients: Mapped[list[BulkRecipient]] = relationship(
        back_populates="bulk_send", order_by="BulkRecipient.id"
    )


class BulkRecipient(db.Model):
    """One person of a bulk send: queued (with its outbox row) or skipped, and why."""

    __tablename__ = "bulk_recipient"
    __table_args__ = (UniqueConstraint("bulk_send_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bulk_send_id: Mapped[int] = mapped_column(ForeignKey("bulk_send.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(254))
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_email.id", ondelete="SET NULL"), index=True
    )
    skipped: Mapped[str | None] = mapped_column(String(40))  # opted out, bouncing, no address

    bulk_send: Mapped[BulkSend] = relationship(back_populates="recipients")
    outbox = relationship("OutboundEmail")


class Sequence(TeamOwned, Timestamps, db.Model):
    __tablename__ = "sequence"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    steps: Mapped[list[SequenceStep]] = relationship(
        back_populates="sequence", order_by="SequenceStep.position", cascade="all, delete-orphan"
    )


class SequenceStep(TeamOwned, db.Model):
    """An email from a template, or a task for the contact's owner, `delay_days` business days
    after the previous step (or the enrolment)."""

    __tablename__ = "sequence_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(10))  # email | task
    delay_days: Mapped[int] = mapped_column(default=0)
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_template.id", ondelete="SET NULL")
    )
    task_title: Mapped[str | None] = mapped_column(String(200))

    sequence: Mapped[Sequence] = relationship(back_populates="steps")
    template = relationship("EmailTemplate")


class Enrolment(TeamOwned, Timestamps, db.Model):
    """A contact going through a sequence: the next step and when it is due, or why it ended."""

    __tablename__ = "enrolment"
    __table_args__ = (
        UniqueConstraint("sequence_id", "contact_id"),
        Index("ix_enrolment_status_due", "status", "next_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deal.id", ondelete="SET NULL"))
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    step: Mapped[int] = mapped_column(default=0)  # position of the next step
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active|finished|stopped
    stop_reason: Mapped[str | None] = mapped_column(String(40))
    last_message_id: Mapped[str | None] = mapped_column(String(300))

    sequence: Mapped[Sequence] = relationship()
    contact = relationship("Contact")


class EnrolmentStep(db.Model):
    """A step done for an enrolment: unique, written in the transaction that queues its mail or
    creates its task, so two workers (or a restart) can never do a step twice."""

    __tablename__ = "enrolment_step"
    __table_args__ = (UniqueConstraint("enrolment_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_email.id", ondelete="SET NULL")
    )
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id", ondelete="SET NULL"))
