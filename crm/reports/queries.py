"""The reports' reads: forecast, win/loss, funnel, activity, pipeline health, the dashboard.

Every function takes ReportFilters (team, zone, period, pipeline, owner, tag) and returns plain
numbers; crm.reports.tables turns them into tables, charts and links. Money is kept per
currency (dict currency → minor units) and never added across currencies. Deals in the trash
are left out everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select

from crm.extensions import db
from crm.models import (
    Activity,
    ActivityKind,
    Deal,
    DealStageHistory,
    DealStatus,
    LostReason,
    Membership,
    Pipeline,
    Stage,
    Task,
    User,
    deal_tag,
)
from crm.reports.periods import ReportFilters, months, weeks
from crm.reports.sqlfn import days_between, month_of, week_of

ACTIVITY_KINDS = (ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL)
LIST_LIMIT = 50


def _money() -> defaultdict[str, int]:
    return defaultdict(int)


def deal_scope(f: ReportFilters, *, owner: bool = True) -> list:
    """The WHERE of every deal report: the team, not in the trash, pipeline, owner, tag."""
    conds = [Deal.team_id == f.team_id, Deal.deleted_at.is_(None)]
    if f.pipeline_id:
        conds.append(Deal.pipeline_id == f.pipeline_id)
    if owner and f.owner_id:
        conds.append(Deal.owner_id == f.owner_id)
    if f.tag_id:
        conds.append(Deal.id.in_(select(deal_tag.c.deal_id).where(deal_tag.c.tag_id == f.tag_id)))
    return conds


def month_key(day: date) -> str:
    return day.strftime("%Y-%m")


def members(team_id: int) -> dict[int, str]:
    return dict(
        db.session.execute(
            select(User.id, User.name)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.team_id == team_id)
            .order_by(User.name)
        ).all()
    )


# --- Forecast --------------------------------------------------------------------------------


@dataclass
class Amounts:
    count: int = 0
    value: dict[str, int] = field(default_factory=_money)
    weighted: dict[str, int] = field(default_factory=_money)


@dataclass
class Forecast:
    months: list[date]
    currencies: list[str]
    open: dict[tuple[str, str], Amounts]  # (month key, currency) → open deals closing then
    won: dict[tuple[str, str], Amounts]  # (month key, currency) → deals won then
    past: dict[str, Amounts]  # currency → open deals whose expected close has passed
    no_date: dict[str, Amounts]  # currency → open deals without an expected close

    def total(self, which: str, currency: str) -> Amounts:
        out = Amounts()
        for (_, cur), a in getattr(self, which).items():
            if cur == currency:
                out.count += a.count
                out.value[cur] += a.value[cur]
                out.weighted[cur] += a.weighted[cur]
        return out


def _open_amounts(stmt_key, conds) -> dict:
    """(key…, currency) → Amounts of open deals, weighted by their stage's probability."""
    stmt = (
        select(
            *stmt_key,
            Deal.currency,
            func.count(Deal.id),
            func.coalesce(func.sum(Deal.value_minor), 0),
            func.coalesce(func.sum(Deal.value_minor * Stage.probability), 0),
        )
        .join(Stage, Stage.id == Deal.stage_id)
        .where(*conds, Deal.status == DealStatus.OPEN)
        .group_by(*stmt_key, Deal.currency)
    )
    out = {}
    for *key, currency, count, total, weighted_x100 in db.session.execute(stmt):
        a = Amounts(count)
        a.value[currency] = int(total)
        a.weighted[currency] = int(weighted_x100) // 100
        out[(*key, currency)] = a
    return out


def forecast(f: ReportFilters) -> Forecast:
    conds = deal_scope(f)
    first_open = max(f.first, f.today)
    month = month_of(Deal.expected_close, is_date=True)
    open_ = {
        (m, cur): a
        for (m, cur), a in _open_amounts(
            [month],
            conds + [Deal.expected_close >= first_open, Deal.expected_close < f.after],
        ).items()
    }
    past = {
        cur: a for (cur,), a in _open_amounts([], conds + [Deal.expected_close < f.today]).items()
    }
    no_date = {
        cur: a for (cur,), a in _open_amounts([], conds + [Deal.expected_close.is_(None)]).items()
    }
    won_month = month_of(Deal.closed_at, f.utc_offset_minutes)
    won = {}
    for m, cur, count, total in db.session.execute(
        select(won_month, Deal.currency, func.count(Deal.id), func.sum(Deal.value_minor))
        .where(
            *conds,
            Deal.status == DealStatus.WON,
            Deal.closed_at >= f.start,
            Deal.closed_at < f.end,
        )
        .group_by(won_month, Deal.currency)
    ):
        a = Amounts(count)
        a.value[cur] = int(total or 0)
        won[(m, cur)] = a
    currencies = sorted({k[1] for k in open_} | {k[1] for k in won} | set(past) | set(no_date))
    return Forecast(months(f.first, f.after), currencies, open_, won, past, no_date)


# --- Win/loss --------------------------------------------------------------------------------


@dataclass
class Reason:
    id: int | None
    name: str
    count: int = 0
    value: dict[str, int] = field(default_factory=_money)


@dataclass
class WinLoss:
    months: list[date]
    currencies: list[str]
    won: dict[tuple[str, str], Amounts]
    lost: dict[tuple[str, str], Amounts]
    cycle_days: float | None  # average days from created to won
    reasons: list[Reason]

    def counts(self, which: str, month: str | None = None) -> int:
        return sum(a.count for (m, _), a in getattr(self, which).items() if month in (None, m))

    def value(self, which: str, currency: str) -> int:
        return sum(a.value[c] for (_, c), a in getattr(self, which).items() if c == currency)

    def win_rate(self, month: str | None = None) -> float | None:
        won, lost = self.counts("won", month), self.counts("lost", month)
        return won / (won + lost) if won + lost else None

    def average_won(self, currency: str) -> int | None:
        count = sum(a.count for (_, c), a in self.won.items() if c == currency)
        return self.value("won", currency) // count if count else None


def win_loss(f: ReportFilters) -> WinLoss:
    conds = deal_scope(f) + [Deal.closed_at >= f.start, Deal.closed_at < f.end]
    m = month_of(Deal.closed_at, f.utc_offset_minutes)
    won, lost = {}, {}
    for month, cur, status, count, total in db.session.execute(
        select(m, Deal.currency, Deal.status, func.count(Deal.id), func.sum(Deal.value_minor))
        .where(*conds, Deal.status.in_((DealStatus.WON, DealStatus.LOST)))
        .group_by(m, Deal.currency, Deal.status)
    ):
        a = Amounts(count)
        a.value[cur] = int(total or 0)
        (won if status == DealStatus.WON else lost)[(month, cur)] = a
    cycle = db.session.scalar(
        select(func.avg(days_between(Deal.created_at, Deal.closed_at))).where(
            *conds, Deal.status == DealStatus.WON
        )
    )
    reasons: dict[int | None, Reason] = {}
    for reason_id, name, cur, count, total in db.session.execute(
        select(
            Deal.lost_reason_id,
            LostReason.name,
            Deal.currency,
            func.count(Deal.id),
            func.sum(Deal.value_minor),
        )
        .outerjoin(LostReason, LostReason.id == Deal.lost_reason_id)
        .where(*conds, Deal.status == DealStatus.LOST)
        .group_by(Deal.lost_reason_id, LostReason.name, Deal.currency)
    ):
        r = reasons.setdefault(reason_id, Reason(reason_id, name or "No reason given"))
        r.count += count
        r.value[cur] += int(total or 0)
    currencies = sorted({k[1] for k in won} | {k[1] for k in lost})
    return WinLoss(
        months(f.first, f.after),
        currencies,
        won,
        lost,
        float(cycle) if cycle is not None else None,
        sorted(reasons.values(), key=lambda r: (-r.count, r.name)),
    )


# --- Funnel ----------------------------------------------------------------------------------


@dataclass
class Funnel:
    pipeline: Pipeline | None
    stages: list[Stage]
    created: int  # deals created in the period (in the pipeline, matching the filters)
    reached: dict[int, int]  # stage id → deals that reached it or a later stage
    won: int  # deals won now, from whichever stage
    median_days: dict[int, float | None]
    won_from_last: int = 0  # won deals that had reached the last stage

    def conversion(self, i: int) -> float | None:
        """From stage i to the next step (the next stage; after the last one, won)."""
        here = self.reached.get(self.stages[i].id, 0)
        last = i + 1 >= len(self.stages)
        nxt = self.won_from_last if last else self.reached.get(self.stages[i + 1].id, 0)
        return nxt / here if here else None


def funnel(f: ReportFilters, pipeline: Pipeline | None) -> Funnel:
    """Three GROUP BY queries; only a handful of rows per stage reach Python."""
    if pipeline is None:
        return Funnel(None, [], 0, {}, 0, {})
    stages = list(pipeline.stages)
    conds = deal_scope(f) + [
        Deal.pipeline_id == pipeline.id,
        Deal.created_at >= f.start,
        Deal.created_at < f.end,
    ]
    H = DealStageHistory
    # Each deal's furthest stage (by position) in this pipeline, with its status now. The
    # positions come as a CASE, not a join to stage: SQLite would otherwise loop over stages.
    stage_ids = [s.id for s in stages]
    position = case({s.id: s.position for s in stages}, value=H.stage_id, else_=-1)
    per_deal = (
        select(func.max(position).label("furthest"), Deal.status.label("status"))
        .join(Deal, Deal.id == H.deal_id)
        # Scoped through the deal (conds: Deal.team_id), so the history index covers it.
        .where(H.stage_id.in_(stage_ids), *conds)
        .group_by(H.deal_id, Deal.status)
        .subquery()
    )
    by_furthest: dict[int, int] = defaultdict(int)
    won_at: dict[int, int] = defaultdict(int)
    for furthest, status, n in db.session.execute(
        select(per_deal.c.furthest, per_deal.c.status, func.count()).group_by(
            per_deal.c.furthest, per_deal.c.status
        )
    ):
        by_furthest[furthest] += n
        if status == DealStatus.WON:
            won_at[furthest] += n
    created_by_status = dict(
        db.session.execute(
            select(Deal.status, func.count(Deal.id)).where(*conds).group_by(Deal.status)
        ).all()
    )
    reached = {s.id: sum(n for pos, n in by_furthest.items() if pos >= s.position) for s in stages}
    # Median of each deal's days in a stage (its finished visits added up), in SQL: rank the
    # per-deal sums within each stage and average the middle one or two.
    spent = (
        select(
            H.stage_id.label("stage_id"),
            func.sum(days_between(H.entered_at, H.left_at)).label("days"),
        )
        .join(Deal, Deal.id == H.deal_id)
        .where(
            H.status == DealStatus.OPEN,
            H.left_at.is_not(None),
            H.stage_id.in_(stage_ids),
            *conds,
        )
        .group_by(H.stage_id, H.deal_id)
        .subquery()
    )
    ranked = select(
        spent.c.stage_id,
        spent.c.days,
        func.row_number().over(partition_by=spent.c.stage_id, order_by=spent.c.days).label("rn"),
        func.count().over(partition_by=spent.c.stage_id).label("cnt"),
    ).subquery()
    medians = dict(
        db.session.execute(
            select(ranked.c.stage_id, func.avg(ranked.c.days))
            .where(ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2]))
            .group_by(ranked.c.stage_id)
        ).all()
    )
    last = stages[-1].position if stages else None
    return Funnel(
        pipeline,
        stages,
        sum(created_by_status.values()),
        reached,
        created_by_status.get(DealStatus.WON, 0),
        {s.id: (float(medians[s.id]) if s.id in medians else None) for s in stages},
        won_at.get(last, 0),
    )


# --- Activity --------------------------------------------------------------------------------

KIND_KEYS = ("note", "call", "meeting", "email", "task")


@dataclass
class ActivityReport:
    weeks: list[date]
    members: dict[int, str]
    counts: dict[tuple[str, int], dict[str, int]]  # (week Monday "YYYY-MM-DD", member) → kind → n

    def total(self, week: str | None = None, member: int | None = None, kind: str | None = None):
        return sum(
            n
            for (w, m), by_kind in self.counts.items()
            if week in (None, w) and member in (None, m)
            for k, n in by_kind.items()
            if kind in (None, k)
        )


def activity(f: ReportFilters) -> ActivityReport:
    team_members = members(f.team_id)
    offset = f.utc_offset_minutes
    # Weeks start on a Monday: a period's first partial week counts from its first day.
    counts: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    wk = week_of(Activity.occurred_at, offset)
    stmt = (
        select(wk, Activity.author_id, Activity.kind, func.count(Activity.id))
        .where(
            Activity.team_id == f.team_id,
            Activity.occurred_at >= f.start,
            Activity.occurred_at < f.end,
            Activity.kind.in_(ACTIVITY_KINDS),
            Activity.deleted_at.is_(None),
            Activity.author_id.is_not(None),
        )
        .group_by(wk, Activity.author_id, Activity.kind)
    )
    if f.owner_id:
        stmt = stmt.where(Activity.author_id == f.owner_id)
    for week, author, kind, n in db.session.execute(stmt):
        if author in team_members:
            counts[(str(week), author)][ActivityKind(kind).value] += n
    tk = week_of(Task.done_at, offset)
    stmt = (
        select(tk, Task.assignee_id, func.count(Task.id))
        .where(
            Task.team_id == f.team_id,
            Task.done_at >= f.start,
            Task.done_at < f.end,
            Task.assignee_id.is_not(None),
        )
        .group_by(tk, Task.assignee_id)
    )
    if f.owner_id:
        stmt = stmt.where(Task.assignee_id == f.owner_id)
    for week, assignee, n in db.session.execute(stmt):
        if assignee in team_members:
            counts[(str(week), assignee)]["task"] += n
    active = {m for _, m in counts}
    shown = {uid: name for uid, name in team_members.items() if uid in active}
    return ActivityReport(weeks(f.first, f.after), shown, counts)


# --- Pipeline health -------------------------------------------------------------------------


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


# --- The dashboard ---------------------------------------------------------------------------


def open_by_stage(f: ReportFilters) -> list[tuple[Stage, Amounts]]:
    """Open deals per stage (in pipeline and stage order)."""
    amounts = _open_amounts([Deal.stage_id], deal_scope(f))
    stages = db.session.scalars(
        select(Stage)
        .join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .where(Stage.team_id == f.team_id)
        .order_by(Pipeline.position, Pipeline.id, Stage.position)
    ).all()
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
    won: dict[str, int] = field(default_factory=_money)
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
