"""The records behind an activity report figure: a member's notes, calls, meetings, emails
or tasks done in one week (or the whole period), newest first, in keyset pages.

The same conditions as crm.reports.reads.activity counts with, so a page lists exactly the
records its figure counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.kernel import paging
from crm.models import Activity, ActivityKind, Task
from crm.reports.reads.common import ACTIVITY_KINDS

PAGE = 50
KINDS = {k.value: k for k in ACTIVITY_KINDS}  # plus "task": tasks done


@dataclass
class Records:
    kind: str | None  # None: every kind (activities and tasks done)
    activities: list[Activity] = field(default_factory=list)
    activity_count: int = 0
    tasks: list[Task] = field(default_factory=list)
    task_count: int = 0
    next_cursor: str | None = None  # the next page of a one-kind list


def _activities(team_id, member_id, kinds, start, end):
    stmt = select(Activity).where(
        Activity.team_id == team_id,
        Activity.occurred_at >= start,
        Activity.occurred_at < end,
        Activity.kind.in_(kinds),
        Activity.deleted_at.is_(None),
        Activity.author_id.is_not(None),
    )
    if member_id:
        stmt = stmt.where(Activity.author_id == member_id)
    return stmt


def _tasks(team_id, member_id, start, end):
    stmt = select(Task).where(
        Task.team_id == team_id,
        Task.done_at >= start,
        Task.done_at < end,
        Task.assignee_id.is_not(None),
    )
    if member_id:
        stmt = stmt.where(Task.assignee_id == member_id)
    return stmt


def _count(stmt) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def records(
    team_id: int,
    member_id: int | None,
    kind: str | None,
    start: datetime,
    end: datetime,
    cursor: str | None = None,
) -> Records:
    """Up to PAGE records of `kind` (one of KINDS or "task"; None: both lists, first page)."""
    out = Records(kind)
    after = paging.decode(cursor, datetime, int) if kind else None
    if kind in (None, *KINDS):
        kinds = [KINDS[kind]] if kind else list(ACTIVITY_KINDS)
        stmt = _activities(team_id, member_id, kinds, start, end)
        out.activity_count = _count(stmt)
        if after:
            stmt = stmt.where(paging.after(Activity.occurred_at, Activity.id, *after, desc=True))
        rows = list(
            db.session.scalars(
                stmt.options(
                    selectinload(Activity.author),
                    selectinload(Activity.links),
                )
                .order_by(Activity.occurred_at.desc(), Activity.id.desc())
                .limit(PAGE + 1)
            )
        )
        page = paging.take(rows, PAGE, lambda a: paging.encode(a.occurred_at, a.id))
        out.activities = page.items
        if kind:
            out.next_cursor = page.next_cursor
    if kind in (None, "task"):
        stmt = _tasks(team_id, member_id, start, end)
        out.task_count = _count(stmt)
        if after:
            stmt = stmt.where(paging.after(Task.done_at, Task.id, *after, desc=True))
        rows = list(
            db.session.scalars(
                stmt.options(selectinload(Task.assignee))
                .order_by(Task.done_at.desc(), Task.id.desc())
                .limit(PAGE + 1)
            )
        )
        page = paging.take(rows, PAGE, lambda t: paging.encode(t.done_at, t.id))
        out.tasks = page.items
        if kind:
            out.next_cursor = page.next_cursor
    return out


def kind_label(kind: ActivityKind | str) -> str:
    return str(getattr(kind, "value", kind)).replace("_", " ").capitalize()
