"""Reads for the /tasks page: groups in the viewer's zone, filters, keyset pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.models import Task
from crm.tasks import dates

PAGE = 30
GROUPS = (
    ("overdue", "Overdue"),
    ("today", "Today"),
    ("upcoming", "Upcoming"),
    ("nodate", "No date"),
)


@dataclass
class Filters:
    """What the list shows; `assignee_id` None means everyone (the team view)."""

    assignee_id: int | None = None
    contact_id: int | None = None
    company_id: int | None = None
    deal_id: int | None = None
    done: bool | None = False
    linked: str | None = None  # "contact" | "company" | "deal" | "none": the kind of link

    def args(self) -> dict:
        out = {"done": "1" if self.done else None}
        for name in ("contact_id", "company_id", "deal_id"):
            out[name.removesuffix("_id")] = getattr(self, name)
        return {k: v for k, v in out.items() if v}


@dataclass
class Group:
    key: str
    label: str
    tasks: list[Task] = field(default_factory=list)
    after: str | None = None  # keyset cursor of the next page, None when this is all


def _base(team_id: int, filters: Filters) -> Select:
    stmt = (
        select(Task)
        .where(Task.team_id == team_id)
        .options(
            selectinload(Task.assignee),
            selectinload(Task.contact),
            selectinload(Task.company),
            selectinload(Task.deal),
        )
    )
    if filters.done is not None:  # None: open and done alike (the API's sync)
        stmt = stmt.where(Task.done_at.is_not(None) if filters.done else Task.done_at.is_(None))
    if filters.assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == filters.assignee_id)
    for name in ("contact_id", "company_id", "deal_id"):
        if (value := getattr(filters, name)) is not None:
            stmt = stmt.where(getattr(Task, name) == value)
    if filters.linked in ("contact", "company", "deal"):
        stmt = stmt.where(getattr(Task, f"{filters.linked}_id").is_not(None))
    elif filters.linked == "none":
        stmt = stmt.where(
            Task.contact_id.is_(None), Task.company_id.is_(None), Task.deal_id.is_(None)
        )
    return stmt


def tasks_query(team_id: int, filters: Filters) -> Select:
    """The team's tasks matching the list's filters, unsorted (the API pages them itself)."""
    return _base(team_id, filters)


def _group_where(key: str, now: datetime, tz):
    """Each group is one range of due_at (so the (…, done_at, due_at) indexes serve it) plus a
    filter: an all-day task is overdue from tomorrow, a timed one from its due minute."""
    _, start_today, start_tomorrow = dates.day_bounds(now, tz)
    if key == "overdue":
        return and_(Task.due_at < now, or_(Task.all_day.is_(False), Task.due_at < start_today))
    if key == "today":
        return and_(
            Task.due_at >= start_today,
            Task.due_at < start_tomorrow,
            or_(Task.all_day.is_(True), Task.due_at >= now),
        )
    if key == "upcoming":
        return Task.due_at >= start_tomorrow
    return Task.due_at.is_(None)


def _cursor(task: Task, key: str) -> str:
    if key == "done":
        return f"{task.done_at.isoformat()}|{task.id}"
    if key == "nodate":
        return f"|{task.id}"
    return f"{task.due_at.isoformat()}|{task.id}"


def _after(stmt: Select, key: str, after: str | None) -> Select:
    if not after:
        return stmt
    moment, _, last_id = after.partition("|")
    try:
        last_id = int(last_id)
        when = datetime.fromisoformat(moment) if moment else None
    except ValueError:
        return stmt
    if key == "done" and when:
        return stmt.where(or_(Task.done_at < when, and_(Task.done_at == when, Task.id < last_id)))
    if key == "nodate" or when is None:
        return stmt.where(Task.id > last_id)
    return stmt.where(or_(Task.due_at > when, and_(Task.due_at == when, Task.id > last_id)))


def group_page(
    team_id: int, filters: Filters, key: str, now: datetime, tz, after: str | None = None
) -> Group:
    """One page of one group (or of done tasks, most recently done first)."""
    label = dict(GROUPS).get(key, "Done")
    stmt = _base(team_id, filters)
    if key == "done":
        stmt = stmt.order_by(Task.done_at.desc(), Task.id.desc())
    else:
        stmt = stmt.where(_group_where(key, now, tz))
        stmt = stmt.order_by(Task.id) if key == "nodate" else stmt.order_by(Task.due_at, Task.id)
    rows = list(db.session.scalars(_after(stmt, key, after).limit(PAGE + 1)))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return Group(key, label, rows, _cursor(rows[-1], key) if more and rows else None)


def task_list(team_id: int, filters: Filters, now: datetime, tz) -> list[Group]:
    if filters.done:
        return [group_page(team_id, filters, "done", now, tz)]
    return [group_page(team_id, filters, key, now, tz) for key, _ in GROUPS]
