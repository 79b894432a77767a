"""Reports: every deal's stage history, and the weekly pipeline email's opt-ins and claims."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.activity import Activity
from crm.models.base import TeamOwned, UTCDateTime, str_enum, utcnow
from crm.models.deal import Deal, DealStatus
from crm.models.task import Task

# The reports' reads of other features' tables (declared here, created by migration 0004r):
# deals created in a period, activity by week and author, completed
# tasks by week.
# Covering (migration 0006r): the forecast's and the dashboard's open deals, by expected close
# month and by stage, and pipeline health, read from the index without the deal rows…
Index(
    "ix_deal_report_open",
    Deal.team_id,
    Deal.status,
    Deal.expected_close,
    Deal.stage_id,
    Deal.currency,
    Deal.value_minor,
    Deal.deleted_at,
    Deal.pipeline_id,
    Deal.owner_id,
    Deal.created_at,
    Deal.last_activity_at,
    Deal.stage_entered_at,
)
# …and won/lost by close date (win/loss, the forecast's won, the leaderboard).
Index(
    "ix_deal_report_closed",
    Deal.team_id,
    Deal.status,
    Deal.closed_at,
    Deal.currency,
    Deal.value_minor,
    Deal.deleted_at,
    Deal.pipeline_id,
    Deal.owner_id,
    Deal.created_at,
    Deal.lost_reason_id,
)
# Covering: the funnel picks deals created in a period without reading the deal rows.
Index(
    "ix_deal_team_created",
    Deal.team_id,
    Deal.created_at,
    Deal.pipeline_id,
    Deal.status,
    Deal.deleted_at,
    Deal.owner_id,
)
Index(  # covering since 0006r (deleted_at): the activity report never reads the rows
    "ix_activity_team_report",
    Activity.team_id,
    Activity.occurred_at,
    Activity.kind,
    Activity.author_id,
    Activity.deleted_at,
)
Index("ix_task_team_done", Task.team_id, Task.done_at, Task.assignee_id)


class DealStageHistory(TeamOwned, db.Model):
    """One row per stretch of time a deal spent in one stage with one status.

    Written only by crm.deals.history (called by the deal services): creating a deal opens a
    row; a move, a win, a loss or a reopen closes the open row (left_at) and opens the next.
    Exactly one row per deal has left_at NULL: where the deal is now.
    """

    __tablename__ = "deal_stage_history"
    __table_args__ = (
        # The writer closes "the open row of this deal"; the funnel reads a deal's rows from
        # the index alone (it covers every column the funnel needs).
        Index(
            "ix_deal_stage_history_deal", "deal_id", "left_at", "stage_id", "status", "entered_at"
        ),
        # Time in stage and conversion per stage over a period.
        Index("ix_deal_stage_history_stage", "team_id", "stage_id", "entered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deal.id", ondelete="CASCADE"))
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"))
    # A stage can be deleted once no deal sits in it; its history stays, without a stage.
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id", ondelete="SET NULL"))
    status: Mapped[DealStatus] = mapped_column(str_enum(DealStatus, 16), default=DealStatus.OPEN)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DealStageReach(TeamOwned, db.Model):
    """The funnel's summary of a deal's stage history: one row per stage the deal has been in.

    `furthest` marks, per deal and pipeline, the stage with the highest position it ever
    reached (the funnel counts it as having passed every stage before); `days` adds up the
    finished open visits to the stage (None while the deal has never left it). Derived only
    by crm.deals.history.reach_rows from the history rows, and rewritten whenever they are
    (record_stage, a reorder or deletion of stages, migration 0006r, `crm seed`).
    """

    __tablename__ = "deal_stage_reach"
    __table_args__ = (
        # The funnel reads a deal's summary from this index alone.
        Index("ix_deal_stage_reach_deal", "deal_id", "pipeline_id", "furthest", "stage_id", "days"),
    )

    deal_id: Mapped[int] = mapped_column(
        ForeignKey("deal.id", ondelete="CASCADE"), primary_key=True
    )
    stage_id: Mapped[int] = mapped_column(
        ForeignKey("stage.id", ondelete="CASCADE"), primary_key=True
    )
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"))
    furthest: Mapped[bool] = mapped_column(Boolean, default=False)
    days: Mapped[float | None] = mapped_column(Float)


class ReportSubscription(TeamOwned, db.Model):
    """A member who asked for the Monday pipeline email of this team."""

    __tablename__ = "report_subscription"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WeeklyReportClaim(TeamOwned, db.Model):
    """The weekly email of one member for one ISO week ("2026-W49"): written in the same
    transaction as its outbox row, so the unique key lets it be sent once whatever races."""

    __tablename__ = "weekly_report_claim"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "iso_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    iso_week: Mapped[str] = mapped_column(String(10))
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_email.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
