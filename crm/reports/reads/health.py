"""Pipeline health: rotting deals, deals without a next task, overdue tasks by member."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select

from crm.extensions import db
from crm.models import (
    Deal,
    DealStatus,
    Stage,
    Task,
    User,
)
from crm.reports.periods import ReportFilters
from crm.reports.reads.common import (
    LIST_LIMIT,
    deal_scope,
    members,
)


@dataclass
class Health:
    rotting_count: int
    rotting: list  # rows: id, title, stage_name, owner_name, value_minor, currency
    idle_count: int  # open deals with no open task
    idle: list
    overdue: list[tuple[int, str, int]]  # member id, name, overdue open tasks


def rotting_condition(team_id: int, now: datetime, pipeline_id: int | None = None):
    """Open deals with no activity (nor a stage change, nor creation) for their stage's
    rot_days: one OR branch per stage that has a limit, so it stays plain comparisons."""
    stmt = select(Stage.id, Stage.rot_days).where(
        Stage.team_id == team_id, Stage.rot_days.is_not(None), Stage.rot_days > 0
    )
    if pipeline_id:
        stmt = stmt.where(Stage.pipeline_id == pipeline_id)
    branches = []
    for stage_id, rot_days in db.session.execute(stmt):
        cutoff = now - timedelta(days=rot_days)
        branches.append(
            and_(
                Deal.stage_id == stage_id,
                Deal.created_at < cutoff,
                or_(Deal.last_activity_at.is_(None), Deal.last_activity_at < cutoff),
                or_(Deal.stage_entered_at.is_(None), Deal.stage_entered_at < cutoff),
            )
        )
    return or_(*branches) if branches else Deal.id.is_(None)


def _no_open_task(team_id: int):
    # Uncorrelated on purpose: one pass over the open tasks, not one probe per deal (SQLite
    # picked the (team, done_at) index for the correlated form and scanned it per deal).
    open_deal_ids = select(Task.deal_id).where(
        Task.team_id == team_id, Task.done_at.is_(None), Task.deal_id.is_not(None)
    )
    return Deal.id.not_in(open_deal_ids)


def health(f: ReportFilters, now: datetime) -> Health:
    conds = deal_scope(f) + [Deal.status == DealStatus.OPEN]
    rot = rotting_condition(f.team_id, now, f.pipeline_id)
    last_touch = func.coalesce(Deal.last_activity_at, Deal.stage_entered_at, Deal.created_at)

    def listing(where, order):
        """Plain rows (no ORM objects): id, title, stage_name, owner_name, value, currency."""
        return list(
            db.session.execute(
                select(
                    Deal.id,
                    Deal.title,
                    Stage.name.label("stage_name"),
                    User.name.label("owner_name"),
                    Deal.value_minor,
                    Deal.currency,
                )
                .join(Stage, Stage.id == Deal.stage_id)
                .outerjoin(User, User.id == Deal.owner_id)
                .where(*conds, where)
                .order_by(order, Deal.id)
                .limit(LIST_LIMIT)
            )
        )

    rotting_count = db.session.scalar(select(func.count(Deal.id)).where(*conds, rot))
    idle = _no_open_task(f.team_id)
    idle_count = db.session.scalar(select(func.count(Deal.id)).where(*conds, idle))
    overdue_stmt = (
        select(Task.assignee_id, func.count(Task.id))
        .where(Task.team_id == f.team_id, Task.done_at.is_(None), Task.due_at < now)
        .group_by(Task.assignee_id)
    )
    if f.owner_id:
        overdue_stmt = overdue_stmt.where(Task.assignee_id == f.owner_id)
    names = members(f.team_id)
    overdue = sorted(
        (
            (uid, names.get(uid, "Nobody") if uid else "Nobody", n)
            for uid, n in db.session.execute(overdue_stmt)
            if uid is None or uid in names
        ),
        key=lambda r: (-r[2], r[1]),
    )
    return Health(
        rotting_count or 0,
        listing(rot, last_touch) if rotting_count else [],
        idle_count or 0,
        listing(idle, Deal.created_at) if idle_count else [],
        overdue,
    )
