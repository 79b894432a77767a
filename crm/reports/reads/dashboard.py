"""The dashboard's reads: open deals by stage, my tasks, my recent activity, the leaderboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select

from crm.extensions import db
from crm.models import (
    Activity,
    Deal,
    DealStatus,
    Pipeline,
    Stage,
    Task,
)
from crm.reports.periods import ReportFilters
from crm.reports.reads.common import (
    ACTIVITY_KINDS,
    Amounts,
    deal_scope,
    members,
    open_amounts,
    per_currency,
)


def open_by_stage(f: ReportFilters) -> list[tuple[Stage, Amounts]]:
    """Open deals per stage (in pipeline and stage order)."""
    stages = db.session.scalars(
        select(Stage)
        .join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .where(Stage.team_id == f.team_id)
        .order_by(Pipeline.position, Pipeline.id, Stage.position)
    ).all()
    amounts = open_amounts([Deal.stage_id], deal_scope(f), {s.id: s.probability for s in stages})
    out = []
    for stage in stages:
        total = Amounts()
        for (stage_id, cur), a in amounts.items():
            if stage_id == stage.id:
                total.count += a.count
                total.value[cur] += a.value[cur]
                total.weighted[cur] += a.weighted[cur]
        if total.count:
            out.append((stage, total))
    return out


def task_counts(team_id: int, user_id: int, now: datetime, start_today, start_tomorrow):
    """The member's overdue and today's open tasks (an all-day task is overdue from tomorrow)."""
    base = select(Task).where(
        Task.team_id == team_id, Task.assignee_id == user_id, Task.done_at.is_(None)
    )
    overdue = base.where(Task.due_at < now, or_(Task.all_day.is_(False), Task.due_at < start_today))
    today = base.where(
        Task.due_at >= start_today,
        Task.due_at < start_tomorrow,
        or_(Task.all_day.is_(True), Task.due_at >= now),
    )

    def page(stmt):
        return list(db.session.scalars(stmt.order_by(Task.due_at, Task.id).limit(5)))

    def count(stmt):
        return db.session.scalar(select(func.count()).select_from(stmt.subquery()))

    return (count(overdue), page(overdue)), (count(today), page(today))


def recent_activity(team_id: int, user_id: int, limit: int = 8) -> list[Activity]:
    return list(
        db.session.scalars(
            select(Activity)
            .where(
                Activity.team_id == team_id,
                Activity.author_id == user_id,
                Activity.kind.in_(ACTIVITY_KINDS),
                Activity.deleted_at.is_(None),
            )
            .order_by(Activity.occurred_at.desc(), Activity.id.desc())
            .limit(limit)
        )
    )


@dataclass
class Leader:
    user_id: int
    name: str
    won_count: int = 0
    won: dict[str, int] = field(default_factory=per_currency)
    activities: int = 0


def leaderboard(f: ReportFilters) -> list[Leader]:
    """Per member over the period: deals won (count, value per currency) and activities."""
    names = members(f.team_id)
    leaders = {uid: Leader(uid, name) for uid, name in names.items()}
    for owner, cur, count, total in db.session.execute(
        select(Deal.owner_id, Deal.currency, func.count(Deal.id), func.sum(Deal.value_minor))
        .where(
            *deal_scope(f, owner=False),
            Deal.status == DealStatus.WON,
            Deal.closed_at >= f.start,
            Deal.closed_at < f.end,
        )
        .group_by(Deal.owner_id, Deal.currency)
    ):
        if owner in leaders:
            leaders[owner].won_count += count
            leaders[owner].won[cur] += int(total or 0)
    for author, n in db.session.execute(
        select(Activity.author_id, func.count(Activity.id))
        .where(
            Activity.team_id == f.team_id,
            Activity.occurred_at >= f.start,
            Activity.occurred_at < f.end,
            Activity.kind.in_(ACTIVITY_KINDS),
            Activity.deleted_at.is_(None),
        )
        .group_by(Activity.author_id)
    ):
        if author in leaders:
            leaders[author].activities += n
    return sorted(
        (x for x in leaders.values() if x.won_count or x.activities),
        key=lambda x: (-x.won_count, -x.activities, x.name),
    )
