"""Activity: notes, calls, meetings, emails and tasks done by member by week."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

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
from crm.reports.sqlfn import week_of

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
