"""Activity: notes, calls, meetings, emails and tasks done by member by week."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, literal, select, union_all

from crm.extensions import db
from crm.models import (
    Activity,
    ActivityKind,
    Task,
)
from crm.reports.periods import ReportFilters, weeks
from crm.reports.reads.common import (
    ACTIVITY_KINDS,
    members,
)

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


def by_week(f: ReportFilters, moment, columns: list, conds: list) -> list[tuple]:
    """(week Monday "YYYY-MM-DD", *columns, count) of the rows in the period, in one statement:
    a UNION ALL of one range per week on the (team, time, …) covering index, so no row goes
    through date arithmetic. Weeks are Monday to Sunday at the period's offset (as the
    report's labels); the first and last are cut to the period."""
    zone = timezone(timedelta(minutes=f.utc_offset_minutes))
    branches = []
    for monday in weeks(f.first, f.after):
        start = datetime.combine(monday, time.min, zone)
        low, high = max(start, f.start), min(start + timedelta(days=7), f.end)
        if low >= high:
            continue
        branches.append(
            select(literal(monday.isoformat()).label("week"), *columns, func.count())
            .where(*conds, moment >= low, moment < high)
            .group_by(*columns)
        )
    if not branches:
        return []
    return list(db.session.execute(union_all(*branches)))


def activity(f: ReportFilters) -> ActivityReport:
    team_members = members(f.team_id)
    counts: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    conds = [
        Activity.team_id == f.team_id,
        Activity.kind.in_(ACTIVITY_KINDS),
        Activity.deleted_at.is_(None),
        Activity.author_id.is_not(None),
    ]
    if f.owner_id:
        conds.append(Activity.author_id == f.owner_id)
    for week, author, kind, n in by_week(
        f, Activity.occurred_at, [Activity.author_id, Activity.kind], conds
    ):
        if author in team_members:
            counts[(str(week), author)][ActivityKind(kind).value] += n
    conds = [Task.team_id == f.team_id, Task.assignee_id.is_not(None)]
    if f.owner_id:
        conds.append(Task.assignee_id == f.owner_id)
    for week, assignee, n in by_week(f, Task.done_at, [Task.assignee_id], conds):
        if assignee in team_members:
            counts[(str(week), assignee)]["task"] += n
    active = {m for _, m in counts}
    shown = {uid: name for uid, name in team_members.items() if uid in active}
    return ActivityReport(weeks(f.first, f.after), shown, counts)
