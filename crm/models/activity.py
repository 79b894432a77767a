"""The timeline: activities linked to contacts, and optionally a company and a deal; audit."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import TeamOwned, Timestamps, UTCDateTime, utcnow


class ActivityKind(enum.StrEnum):
    NOTE = "note"
    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"
    STAGE_CHANGE = "stage_change"
    TASK_DONE = "task_done"
    SYSTEM = "system"  # audit entries: field changes, merges, restores


class Activity(TeamOwned, Timestamps, db.Model):
    __table_args__ = (
        Index("ix_activity_company_time", "company_id", "occurred_at", "id"),
        Index("ix_activity_deal_time", "deal_id", "occurred_at", "id"),
        Index("ix_activity_team_time", "team_id", "occurred_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ActivityKind] = mapped_column(
        Enum(
            ActivityKind,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(default=False)
    # Calls: outcome (connected, voicemail, no answer, …) and duration; meetings: end, place.
    outcome: Mapped[str | None] = mapped_column(String(40))
    duration_minutes: Mapped[int | None] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    location: Mapped[str | None] = mapped_column(String(300))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deal.id", ondelete="SET NULL"))
    # Kind-specific details (stage change from/to, audit changes, email ids, …).
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author = relationship("User")
    links: Mapped[list[ActivityContact]] = relationship(
        back_populates="activity", cascade="all, delete-orphan"
    )


class ActivityContact(db.Model):
    """An activity on a contact's timeline; occurred_at is copied so the page is one index scan."""

    __tablename__ = "activity_contact"
    __table_args__ = (
        Index("ix_activity_contact_time", "contact_id", "occurred_at", "activity_id"),
    )

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)

    activity: Mapped[Activity] = relationship(back_populates="links")


class AuditEvent(TeamOwned, db.Model):
    """Who changed what, when: {field: [old, new]} per change."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_entity", "team_id", "entity_type", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column()
    action: Mapped[str] = mapped_column(String(20))  # create, update, delete, restore, merge, …
    changes: Mapped[dict] = mapped_column(JSON, default=dict)

    actor = relationship("User")
