"""Leads, web-to-lead forms, their submissions (spam included) and fair-assignment rotations."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import TeamOwned, Timestamps, UTCDateTime, str_enum, utcnow


class LeadStatus(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"

    @property
    def label(self) -> str:
        return self.value.title()


class LeadForm(TeamOwned, Timestamps, db.Model):
    __tablename__ = "lead_form"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # The public address /f/<token>: a secret only in the sense that it is hard to guess.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    fields: Mapped[list] = mapped_column(JSON, default=list)  # names asked, in order
    required: Mapped[list] = mapped_column(JSON, default=list)
    hidden: Mapped[dict] = mapped_column(JSON, default=dict)  # {"source": …, "campaign": …}
    thank_you: Mapped[str | None] = mapped_column(Text)
    redirect_url: Mapped[str | None] = mapped_column(String(500))
    allowed_origins: Mapped[list] = mapped_column(JSON, default=list)  # "https://example.com"
    tag: Mapped[str | None] = mapped_column(String(60))
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id", ondelete="SET NULL"))
    create_task: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LeadRule(TeamOwned, Timestamps, db.Model):
    """Who gets a new lead: a form's own rule, or the team's rule for all new leads (no form)."""

    __tablename__ = "lead_rule"
    __table_args__ = (UniqueConstraint("team_id", "form_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int | None] = mapped_column(ForeignKey("lead_form.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(16), default="none")  # none, round_robin, field
    pool: Mapped[list] = mapped_column(JSON, default=list)  # user ids, in turn order
    field: Mapped[str | None] = mapped_column(String(40))  # e.g. "country"
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)  # lower-cased value → user id
    fallback_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class LeadRotation(TeamOwned, db.Model):
    """The turn counter of one round-robin pool: taken with one atomic UPDATE … RETURNING."""

    __tablename__ = "lead_rotation"
    __table_args__ = (UniqueConstraint("team_id", "pool_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_key: Mapped[str] = mapped_column(String(200))
    turn: Mapped[int] = mapped_column(default=0)


class Lead(TeamOwned, Timestamps, db.Model):
    __table_args__ = (
        UniqueConstraint("team_id", "contact_id"),
        Index("ix_lead_team_status", "team_id", "status", "arrived_at"),
        Index("ix_lead_team_assignee", "team_id", "assignee_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    status: Mapped[LeadStatus] = mapped_column(str_enum(LeadStatus), default=LeadStatus.NEW)
    reason: Mapped[str | None] = mapped_column(String(200))  # why disqualified
    source: Mapped[str | None] = mapped_column(String(100))
    form_id: Mapped[int | None] = mapped_column(ForeignKey("lead_form.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deal.id", ondelete="SET NULL"))

    contact = relationship("Contact")
    assignee = relationship("User", foreign_keys=[assignee_id])
    form = relationship("LeadForm")


class SubmissionStatus(enum.StrEnum):
    PENDING = "pending"  # stored by the request; the job turns it into a contact and lead
    PROCESSING = "processing"  # claimed by a job (claimed_at); handed back if it went stale
    PROCESSED = "processed"
    FAILED = "failed"  # `error` says why; an admin can try again from the form's page
    SPAM = "spam"
    RELEASED = "released"  # before 0006l: released from Spam and processed at once


class LeadSubmission(TeamOwned, Timestamps, db.Model):
    """Every accepted POST to a form, spam included: its raw fields and what became of it."""

    __tablename__ = "lead_submission"
    __table_args__ = (
        Index("ix_lead_submission_team_status", "team_id", "status", "id"),
        # The job's claim: the oldest pending rows of every team.
        Index("ix_lead_submission_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("lead_form.id", ondelete="CASCADE"), index=True)
    status: Mapped[SubmissionStatus] = mapped_column(str_enum(SubmissionStatus))
    reason: Mapped[str | None] = mapped_column(String(200))  # why it looks like spam
    raw: Mapped[dict] = mapped_column(JSON, default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)  # why processing failed
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # out of Spam by an admin

    form = relationship("LeadForm")
