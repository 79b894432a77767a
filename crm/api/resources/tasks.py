"""/api/v1/tasks: the task list's filters; the task services (reminders, recurrence, the
"task done" timeline entry) for create, edit, complete, reopen and delete."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from crm.api.core import actor_id, team_id
from crm.api.resource import Listing, Resource, Write, register
from crm.api.schemas import ListQuery, Strict, UTCTime
from crm.errors import Invalid
from crm.kernel.paging import SortKey
from crm.models import Task
from crm.tasks import services
from crm.tasks.queries import Filters, tasks_query


class TaskEdit(Strict):
    """Fields of a task. On PATCH only the fields sent change; `done` completes or reopens."""

    title: str | None = Field(None, max_length=300, description="Required on create.")
    due_date: date | None = Field(None, description="Due all day on this date.")
    due_at: UTCTime | None = Field(None, description="Due at this moment (not all day).")
    assignee_id: int | None = Field(None, description="A member's user id (default: you).")
    remind_before: int | None = Field(
        None, ge=0, description="Minutes before the due time (all-day: before 09:00)."
    )
    notes: str | None = None
    priority: Literal["low", "normal", "high"] | None = None
    recurrence: str | None = Field(
        None, description="daily, weekdays, weekly, monthly or every:N (days)."
    )
    done: bool | None = None

    @model_validator(mode="after")
    def _one_due(self):
        if self.due_date is not None and self.due_at is not None:
            raise ValueError("send due_date or due_at, not both")
        return self


class TaskIn(TaskEdit):
    contact_id: int | None = None
    company_id: int | None = None
    deal_id: int | None = None


class TaskOut(BaseModel):
    id: int
    title: str
    notes: str | None
    due_at: datetime | None
    all_day: bool
    remind_at: datetime | None
    priority: Literal["low", "normal", "high"]
    recurrence: str | None
    assignee_id: int | None
    created_by_id: int | None
    contact_id: int | None
    company_id: int | None
    deal_id: int | None
    done: bool
    done_at: datetime | None
    created_at: datetime
    updated_at: datetime


SORTS = {
    "created": SortKey(Task.created_at, datetime),
    "updated": SortKey(Task.updated_at, datetime),
    "id": SortKey(Task.id, int),
}


class TaskQuery(ListQuery):
    assignee: int | None = None
    contact: int | None = None
    company: int | None = None
    deal: int | None = None
    status: Literal["open", "done", "all"] = "all"
    linked: Literal["contact", "company", "deal", "none"] | None = None
    sort: Literal["created", "-created", "updated", "-updated", "id", "-id"] = "id"


def out(task: Task) -> dict:
    return {
        "id": task.id,
        "title": task.title,
        "notes": task.notes,
        "due_at": task.due_at,
        "all_day": task.all_day,
        "remind_at": task.remind_at,
        "priority": task.priority.value,
        "recurrence": task.recurrence,
        "assignee_id": task.assignee_id,
        "created_by_id": task.created_by_id,
        "contact_id": task.contact_id,
        "company_id": task.company_id,
        "deal_id": task.deal_id,
        "done": task.done_at is not None,
        "done_at": task.done_at,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }


def _select(query: TaskQuery):
    filters = Filters(
        assignee_id=query.assignee,
        contact_id=query.contact,
        company_id=query.company,
        deal_id=query.deal,
        done={"open": False, "done": True, "all": None}[query.status],
        linked=query.linked,
    )
    return tasks_query(team_id(), filters)


def _due(body: TaskEdit, task: Task | None) -> dict:
    sent = body.model_fields_set
    if "due_at" in sent and body.due_at is not None:
        return {"due_at": body.due_at, "all_day": False}
    if "due_date" in sent or "due_at" in sent:
        return {"due_at": body.due_date, "all_day": True}
    if task is None:
        return {"due_at": None, "all_day": True}
    return {"due_at": task.due_at, "all_day": task.all_day}


def _create(body: TaskIn) -> Task:
    task = services.create_task(
        team_id(),
        actor_id(),
        title=body.title or "",
        assignee_id=body.assignee_id,
        contact_id=body.contact_id,
        company_id=body.company_id,
        deal_id=body.deal_id,
        remind_before=body.remind_before,
        notes=body.notes,
        priority=body.priority or "normal",
        recurrence=body.recurrence,
        **_due(body, None),
    )
    if body.done:
        services.complete_task(task, actor_id())
    return task


def _update(task: Task, body: TaskEdit) -> None:
    sent = body.model_fields_set - {"done"}
    if sent:
        if "title" in sent and not body.title:
            raise Invalid("Give the task a title.", field="title")
        keep = {
            "title": task.title,
            "assignee_id": task.assignee_id or actor_id(),
            "remind_before": services.remind_before_minutes(task),
            "notes": task.notes,
            "priority": task.priority.value,
            "recurrence": task.recurrence,
        }
        changed = {k: getattr(body, k) for k in keep if k in sent}
        if changed.get("assignee_id", 0) is None:
            changed["assignee_id"] = actor_id()
        services.update_task(task, **{**keep, **changed, **_due(body, task)})
    if body.done is True and task.done_at is None:
        services.complete_task(task, actor_id())
    elif body.done is False and task.done_at is not None:
        services.reopen_task(task)


register(
    Resource(
        "/tasks",
        "task_id",
        Task,
        name="task",
        plural="tasks",
        tag="tasks",
        out=out,
        response=TaskOut,
        get="Get a task",
        listing=Listing(
            TaskQuery,
            _select,
            SORTS,
            summary="List tasks",
            description="The task list's filters (assignee, linked record, open/done).",
        ),
        create=Write(_create, summary="Create a task", body=TaskIn),
        update=Write(
            _update,
            summary="Update, complete or reopen a task",
            description="A task's links (contact, company, deal) are set when it is created.",
            body=TaskEdit,
        ),
        delete=Write(
            services.delete_task,
            summary="Delete a task",
            description="Tasks have no trash (as on the page): this deletes it.",
        ),
    )
)
