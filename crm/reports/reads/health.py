"""Pipeline health: rotting deals, deals without a next task, overdue tasks by member."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from crm.deals import queries as deal_queries
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


def health(f: ReportFilters, now: datetime) -> Health:
    conds = deal_scope(f) + [Deal.status == DealStatus.OPEN]
    rot = deal_queries.rotting_condition(f.team_id, now, f.pipeline_id)
    last_touch = func.coalesce(Deal.last_activity_at, Deal.stage_entered_at, Deal.created_at)

    def listing(where, order):
        """Plain rows (no ORM objects): id, title, stage_name, owner_name, value, currency.
        The first LIST_LIMIT deals are picked from the index alone, then joined to names (the
        join before the sort cost one stage and user lookup per matching deal)."""
        top = (
            select(Deal.id, order.label("touch"))
            .where(*conds, where)
            .order_by(order, Deal.id)
            .limit(LIST_LIMIT)
            .subquery()
        )
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
                .join(top, top.c.id == Deal.id)
                .join(Stage, Stage.id == Deal.stage_id)
                .outerjoin(User, User.id == Deal.owner_id)
                .order_by(top.c.touch, Deal.id)
            )
        )

    rotting_count = db.session.scalar(select(func.count(Deal.id)).where(*conds, rot))
    idle = deal_queries.without_open_task(f.team_id)
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
