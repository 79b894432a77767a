"""Task writes (they own the commit) and the small reads other features call.

Other features use: create_task() (the contacts composer's follow-ups), open_tasks_for()
(the open tasks of a contact, company or deal page, rendered by tasks/_record_tasks.html).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.kernel import dates, events, members
from crm.kernel.timeline import record
from crm.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    Deal,
    Priority,
    Task,
    User,
    utcnow,
)
from crm.tasks import recurrence as recurring

RECORD_TASKS_LIMIT = 50
LINKS = {"contact": Contact, "company": Company, "deal": Deal}


def _user_zone(user_id: int | None):
    user = db.session.get(User, user_id) if user_id else None
    return dates.zone(user.timezone if user else None)


def _check_assignee(team_id: int, assignee_id: int) -> None:
    if not members.is_member(team_id, assignee_id):
        raise Invalid("Choose someone in your team.", field="assignee_id")


def _check_links(team_id: int, **ids: int | None) -> None:
    for kind, record_id in ids.items():
        if record_id is None:
            continue
        model = LINKS[kind.removesuffix("_id")]
        stmt = select(model.id).where(model.team_id == team_id, model.id == record_id)
        if hasattr(model, "deleted_at"):
            stmt = stmt.where(model.deleted_at.is_(None))
        if db.session.scalar(stmt) is None:
            raise Invalid(f"That {kind.removesuffix('_id')} is not in your team.", field=kind)


def _normalise_due(due_at, all_day: bool, tz) -> tuple[datetime | None, bool]:
    """A date means all day; an all-day datetime becomes the start of its local day."""
    if due_at is None:
        return None, True
    if not isinstance(due_at, datetime):  # a plain date
        return dates.local_midnight(due_at, tz), True
    if due_at.tzinfo is None:
        raise ValueError("due_at must be timezone-aware")
    if all_day:
        return dates.local_midnight(due_at.astimezone(tz).date(), tz), True
    return due_at, False


def _apply(
    task: Task,
    *,
    title: str,
    due_at: datetime | date | None,
    all_day: bool,
    assignee_id: int,
    remind_before: int | None,
    notes: str | None,
    priority: str | Priority,
    recurrence: str | None,
) -> None:
    title = (title or "").strip()
    if not title:
        raise Invalid("Give the task a title.", field="title")
    try:
        task.recurrence = recurring.valid_recurrence(recurrence)
        task.priority = Priority(priority or "normal")
    except ValueError as error:
        raise Invalid(str(error)) from None
    tz = _user_zone(assignee_id)
    task.title = title[:300]
    task.notes = (notes or "").strip() or None
    task.assignee_id = assignee_id
    task.due_at, task.all_day = _normalise_due(due_at, all_day, tz)
    if task.recurrence and task.due_at is None:
        raise Invalid("A repeating task needs a due date.", field="due_date")
    remind_at = recurring.remind_moment(task.due_at, task.all_day, remind_before, tz)
    if remind_at != task.remind_at:
        task.remind_at = remind_at
        task.reminder_sent_at = None  # a new reminder time is a new reminder


def create_task(
    team_id: int,
    actor_id: int | None,
    *,
    title: str,
    due_at: datetime | date | None = None,
    all_day: bool = True,
    assignee_id: int | None = None,
    contact_id: int | None = None,
    company_id: int | None = None,
    deal_id: int | None = None,
    remind_before: int | None = None,
    notes: str | None = None,
    priority: str | Priority = "normal",
    recurrence: str | None = None,
    commit: bool = True,
) -> Task:
    """Create and commit a task (commit=False: the caller commits, e.g. a batch of leads).

    `due_at`: a date (all day), or an aware datetime (with all_day=False, a due time).
    `assignee_id` defaults to the actor. `remind_before`: minutes before the due time (0 = at
    the due time; all-day tasks count from 09:00 on the due date in the assignee's zone);
    None = no reminder. `recurrence`: daily, weekdays, weekly, monthly or every:N (days).
    """
    assignee_id = assignee_id or actor_id
    if assignee_id is None:
        raise Invalid("A task needs an assignee.", field="assignee_id")
    _check_assignee(team_id, assignee_id)
    _check_links(team_id, contact_id=contact_id, company_id=company_id, deal_id=deal_id)
    task = Task(
        team_id=team_id,
        created_by_id=actor_id,
        contact_id=contact_id,
        company_id=company_id,
        deal_id=deal_id,
    )
    _apply(
        task,
        title=title,
        due_at=due_at,
        all_day=all_day,
        assignee_id=assignee_id,
        remind_before=remind_before,
        notes=notes,
        priority=priority,
        recurrence=recurrence,
    )
    db.session.add(task)
    db.session.flush()
    events.emit(
        "task.created", team_id=team_id, record_type="task", record_id=task.id, actor_id=actor_id
    )
    if commit:
        db.session.commit()
    return task


def update_task(
    task: Task,
    *,
    title: str,
    due_at: datetime | date | None = None,
    all_day: bool = True,
    assignee_id: int,
    remind_before: int | None = None,
    notes: str | None = None,
    priority: str | Priority = "normal",
    recurrence: str | None = None,
) -> Task:
    _check_assignee(task.team_id, assignee_id)
    _apply(
        task,
        title=title,
        due_at=due_at,
        all_day=all_day,
        assignee_id=assignee_id,
        remind_before=remind_before,
        notes=notes,
        priority=priority,
        recurrence=recurrence,
    )
    events.emit("task.updated", team_id=task.team_id, record_type="task", record_id=task.id)
    db.session.commit()
    return task


def remind_before_minutes(task: Task) -> int | None:
    """The lead time a task's reminder was set with (for editing and for recurrence)."""
    if task.remind_at is None or task.due_at is None:
        return None
    base = recurring.remind_moment(task.due_at, task.all_day, 0, _user_zone(task.assignee_id))
    return max(0, int((base - task.remind_at).total_seconds() // 60))


def complete_task(task: Task, actor_id: int | None, now: datetime | None = None) -> Task:
    """Mark done, write "task done" on the linked timelines, create the next occurrence."""
    if task.done_at is not None:
        raise Conflict("That task is already done.")
    now = now or utcnow()
    task.done_at = now
    if task.contact_id or task.company_id or task.deal_id:
        activity = record(
            team_id=task.team_id,
            kind=ActivityKind.TASK_DONE,
            author_id=actor_id,
            contact_ids=[task.contact_id] if task.contact_id else [],
            company_id=task.company_id,
            deal_id=task.deal_id,
            subject=task.title,
            occurred_at=now,
            data={"task_id": task.id},
        )
        db.session.flush()
        task.done_activity_id = activity.id
    if task.recurrence:
        tz = _user_zone(task.assignee_id)
        due = recurring.next_due(task.due_at, task.all_day, task.recurrence, now, tz)
        following = Task(
            team_id=task.team_id,
            title=task.title,
            notes=task.notes,
            due_at=due,
            all_day=task.all_day,
            priority=task.priority,
            assignee_id=task.assignee_id,
            created_by_id=task.created_by_id,
            contact_id=task.contact_id,
            company_id=task.company_id,
            deal_id=task.deal_id,
            recurrence=task.recurrence,
            remind_at=recurring.remind_moment(due, task.all_day, remind_before_minutes(task), tz),
        )
        db.session.add(following)
        db.session.flush()
        task.next_occurrence_id = following.id
    events.emit(
        "task.updated",
        team_id=task.team_id,
        record_type="task",
        record_id=task.id,
        actor_id=actor_id,
        changes={"done": [False, True]},
    )
    db.session.commit()
    return task


def reopen_task(task: Task) -> Task:
    """Undo a completion: drop its timeline entry and its untouched next occurrence."""
    if task.done_at is None:
        return task
    if task.done_activity_id:
        activity_id, task.done_activity_id = task.done_activity_id, None
        db.session.flush()
        db.session.execute(
            delete(Activity).where(Activity.id == activity_id, Activity.team_id == task.team_id)
        )
    if task.next_occurrence_id:
        following = db.session.get(Task, task.next_occurrence_id)
        task.next_occurrence_id = None
        db.session.flush()
        if following is not None and following.done_at is None:
            db.session.delete(following)
    task.done_at = None
    events.emit(
        "task.updated",
        team_id=task.team_id,
        record_type="task",
        record_id=task.id,
        changes={"done": [True, False]},
    )
    db.session.commit()
    return task


def delete_task(task: Task) -> None:
    events.emit("task.deleted", team_id=task.team_id, record_type="task", record_id=task.id)
    db.session.delete(task)
    db.session.commit()


def open_tasks_for(
    team_id: int,
    contact_id: int | None = None,
    deal_id: int | None = None,
    company_id: int | None = None,
) -> list[Task]:
    """Open tasks linked to one record, soonest first, undated last."""
    stmt = (
        select(Task)
        .where(Task.team_id == team_id, Task.done_at.is_(None))
        .options(selectinload(Task.assignee))
        .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
        .limit(RECORD_TASKS_LIMIT)
    )
    if contact_id is not None:
        stmt = stmt.where(Task.contact_id == contact_id)
    if deal_id is not None:
        stmt = stmt.where(Task.deal_id == deal_id)
    if company_id is not None:
        stmt = stmt.where(Task.company_id == company_id)
    if contact_id is None and deal_id is None and company_id is None:
        return []
    return list(db.session.scalars(stmt))


# --- Preferences: the digest and the calendar feed ---------------------------------------------


def set_digest_opt_out(user: User, opt_out: bool) -> None:
    user.digest_opt_out = opt_out
    db.session.commit()


def calendar_token(user: User) -> str:
    """The user's feed secret, made on first use."""
    if not user.calendar_token:
        return regenerate_calendar_token(user)
    return user.calendar_token


def regenerate_calendar_token(user: User) -> str:
    """A new secret: the old feed URL stops working at once."""
    user.calendar_token = secrets.token_urlsafe(24)
    db.session.commit()
    return user.calendar_token
