"""Reads for the /tasks page: groups in the viewer's zone, filters, keyset pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.kernel import dates, members, paging
from crm.kernel.ids import parse_id
from crm.models import Task

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

    @classmethod
    def from_args(cls, args, user_id: int, member_ids=()) -> Filters:
        """The list's filters from its URL arguments, for this member: their own tasks, or with
        `view=team` everyone's (or one member's of `member_ids`, the team's)."""
        assignee = user_id
        if args.get("view") == "team":
            wanted = args.get("assignee", type=parse_id)
            assignee = wanted if wanted in member_ids else None
        filters = cls(
            assignee_id=assignee,
            done=args.get("done") == "1",
            linked=args.get("linked") or None,
        )
        for kind in ("contact", "company", "deal"):
            setattr(filters, f"{kind}_id", args.get(kind, type=parse_id))
        return filters

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


def task_count(team_id: int, user_id: int, args) -> int:
    """How many tasks the list shows for these URL arguments (a saved view's count): its groups
    together are the tasks of its filters, counted in one SELECT count(*)."""
    member_ids = {u.id for u in members.members(team_id)} if args.get("view") == "team" else ()
    stmt = _base(team_id, Filters.from_args(args, user_id, member_ids)).options()
    return db.session.scalar(select(func.count()).select_from(stmt.subquery()))


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
        return paging.encode(task.done_at, task.id)
    if key == "nodate":
        return paging.encode(None, task.id)
    return paging.encode(task.due_at, task.id)


def _after(stmt: Select, key: str, after: str | None) -> Select:
    position = paging.decode(after, datetime, int)
    if position is None:
        return stmt
    when, last_id = position
    if key == "done" and when:
        return stmt.where(paging.after(Task.done_at, Task.id, when, last_id, desc=True))
    if key == "nodate" or when is None:
        return stmt.where(Task.id > last_id)
    return stmt.where(paging.after(Task.due_at, Task.id, when, last_id))


def group_page(
    team_id: int,
    filters: Filters,
    key: str,
    now: datetime,
    tz,
    after: str | None = None,
    limit: int | None = None,
) -> Group:
    """One page of one group (or of done tasks, most recently done first)."""
    limit = limit or PAGE
    label = dict(GROUPS).get(key, "Done")
    stmt = _base(team_id, filters)
    if key == "done":
        stmt = stmt.order_by(Task.done_at.desc(), Task.id.desc())
    else:
        stmt = stmt.where(_group_where(key, now, tz))
        stmt = stmt.order_by(Task.id) if key == "nodate" else stmt.order_by(Task.due_at, Task.id)
    rows = list(db.session.scalars(_after(stmt, key, after).limit(limit + 1)))
    page = paging.take(rows, limit, lambda task: _cursor(task, key))
    return Group(key, label, page.items, page.next_cursor)


def task_list(team_id: int, filters: Filters, now: datetime, tz) -> list[Group]:
    if filters.done:
        return [group_page(team_id, filters, "done", now, tz)]
    return [group_page(team_id, filters, key, now, tz) for key, _ in GROUPS]


# --- The list as a CSV file ------------------------------------------------------------------

EXPORT_HEADER = [
    "Group",
    "Title",
    "Due",
    "All day",
    "Priority",
    "Assignee",
    "Contact",
    "Company",
    "Deal",
    "Notes",
    "Done",
    "Created",
]
EXPORT_PAGE = 500


def export_rows(team_id: int, filters: Filters, now: datetime, tz) -> Iterator[list]:
    """The list on screen, every page of every group in the order the page shows them (the same
    queries), one row per task; times in the viewer's zone, all-day tasks as their date."""
    keys = ["done"] if filters.done else [key for key, _ in GROUPS]
    for key in keys:
        after = None
        while True:
            group = group_page(team_id, filters, key, now, tz, after, limit=EXPORT_PAGE)
            for task in group.tasks:
                yield _export_row(group.label, task, tz)
            if group.after is None:
                break
            after = group.after


def _export_row(group: str, task: Task, tz) -> list:
    def local(moment: datetime | None, all_day: bool = False) -> str:
        if moment is None:
            return ""
        if all_day:  # stored as the local midnight of the assignee's zone
            owner_tz = dates.zone(task.assignee.timezone if task.assignee else None)
            return moment.astimezone(owner_tz).date().isoformat()
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    return [
        group,
        task.title,
        local(task.due_at, task.all_day),
        "yes" if task.all_day and task.due_at else "",
        task.priority.value,
        task.assignee.name if task.assignee else "",
        task.contact.name if task.contact else "",
        task.company.name if task.company else "",
        task.deal.title if task.deal else "",
        task.notes,
        local(task.done_at),
        local(task.created_at),
    ]
