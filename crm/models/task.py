"""Tasks with due dates, reminders and recurrence."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import TeamOwned, Timestamps, UTCDateTime


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class Task(TeamOwned, Timestamps, db.Model):
    __table_args__ = (
        Index("ix_task_assignee_open", "team_id", "assignee_id", "done_at", "due_at"),
        Index("ix_task_team_open", "team_id", "done_at", "due_at"),
        Index("ix_task_team_updated", "team_id", "updated_at", "id"),  # API sync
        # The reminder sweep: due reminders not sent yet.
        Index("ix_task_reminder_due", "remind_at", "reminder_sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    notes: Mapped[str | None] = mapped_column(Text)
    # The due moment in UTC; with all_day it is the start of the due date in the assignee's zone.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    all_day: Mapped[bool] = mapped_column(default=True)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[Priority] = mapped_column(
        Enum(
            Priority, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]
        ),
        default=Priority.NORMAL,
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact.id", ondelete="SET NULL"), index=True
    )
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("company.id", ondelete="SET NULL"), index=True
    )
    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deal.id", ondelete="SET NULL"), index=True
    )
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Recurrence rule: daily, weekdays, weekly, monthly or every:N (days); None for one-off.
    recurrence: Mapped[str | None] = mapped_column(String(20))

    # Undo of a completion removes what it made: the timeline entry and the next occurrence.
    done_activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activity.id", ondelete="SET NULL")
    )
    next_occurrence_id: Mapped[int | None] = mapped_column(
        ForeignKey("task.id", ondelete="SET NULL")
    )

    assignee = relationship("User", foreign_keys=[assignee_id])
    created_by = relationship("User", foreign_keys=[created_by_id])
    contact = relationship("Contact")
    company = relationship("Company")
    deal = relationship("Deal")
