"""Automation: a team's rules, each run of a rule (the run log) and each action's effect."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import TeamOwned, Timestamps, UTCDateTime, str_enum, utcnow


class AutomationRule(TeamOwned, Timestamps, db.Model):
    """When `trigger` fires (with `trigger_config`), if `conditions` hold, run `actions`."""

    __tablename__ = "automation_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    trigger: Mapped[str] = mapped_column(String(40))
    trigger_config: Mapped[dict] = mapped_column(JSON, default=dict)
    conditions: Mapped[list] = mapped_column(JSON, default=list)
    actions: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class RunStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    RUNNING = "running"  # claimed by a worker; the sweep hands it back if the worker died
    DONE = "done"
    FAILED = "failed"  # an action kept failing: shown in the log, never dropped
    STOPPED = "stopped"  # not run: the loop limit was reached


class AutomationRun(TeamOwned, Timestamps, db.Model):
    """One rule fired for one record: written before its job runs (the row is the work)."""

    __tablename__ = "automation_run"
    __table_args__ = (
        Index("ix_automation_run_status_next", "status", "next_attempt_at"),
        Index("ix_automation_run_rule", "rule_id", "id"),
        # Time-based triggers fire once per rule, record and date: "<record>:<date>".
        UniqueConstraint("rule_id", "fire_key", name="uq_automation_run_fire"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rule.id", ondelete="CASCADE"))
    record_type: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(60))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    chain: Mapped[list] = mapped_column(JSON, default=list)  # rule ids that led here
    fire_key: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[RunStatus] = mapped_column(str_enum(RunStatus, 16), default=RunStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcomes: Mapped[list] = mapped_column(JSON, default=list)  # one line per action
    error: Mapped[str | None] = mapped_column(Text)

    rule: Mapped[AutomationRule] = relationship()


class AutomationEffect(db.Model):
    """An action done: written in the action's own transaction, so a re-run skips it."""

    __tablename__ = "automation_effect"
    __table_args__ = (UniqueConstraint("run_id", "action_index", name="uq_automation_effect"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("automation_run.id", ondelete="CASCADE"))
    action_index: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
