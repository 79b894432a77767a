"""/api/v1/activities: the timeline. Every kind can be read (notes, calls, meetings, emails,
stage changes, completed tasks, system entries); notes, calls and meetings can be written,
through the same timeline service as the forms on a record's page."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.api.core import actor_id
from crm.api.resource import Listing, Resource, Write, register
from crm.api.schemas import ListQuery, Strict, UTCTime
from crm.extensions import db
from crm.kernel.paging import SortKey
from crm.models import Activity, ActivityContact, ActivityKind, Company, Contact, Deal
from crm.security import get_or_404, scoped
from crm.timeline import services

Kind = Literal["note", "call", "meeting", "email", "stage_change", "task_done", "system"]
CallOutcome = Literal["connected", "left voicemail", "no answer", "busy", "wrong number"]


class ActivityEdit(Strict):
    """What you write on a note, call or meeting. On PATCH only the fields sent change."""

    body: str | None = Field(None, description="The note; what was said.")
    subject: str | None = Field(None, max_length=300)
    outcome: CallOutcome | None = Field(None, description="Calls only.")
    duration_minutes: int | None = Field(None, ge=0, le=1440, description="Calls only.")
    occurred_at: UTCTime | None = Field(None, description="Default: now.")
    attendees: str | None = Field(None, max_length=500, description="Meetings only.")
    location: str | None = Field(None, max_length=300, description="Meetings only.")


class ActivityIn(ActivityEdit):
    """Log a note, call or meeting on exactly one record's timeline."""

    kind: Literal["note", "call", "meeting"]
    contact_id: int | None = None
    company_id: int | None = None
    deal_id: int | None = None
    follow_up_on: date | None = Field(None, description="Also create a follow-up task due then.")

    @model_validator(mode="after")
    def _one_target(self):
        targets = [self.contact_id, self.company_id, self.deal_id]
        if sum(t is not None for t in targets) != 1:
            raise ValueError("give exactly one of contact_id, company_id, deal_id")
        return self


class ActivityOut(BaseModel):
    id: int
    kind: Kind
    occurred_at: datetime
    author_id: int | None
    subject: str | None
    body: str | None
    outcome: str | None
    duration_minutes: int | None
    location: str | None
    attendees: str | None
    pinned: bool
    contact_ids: list[int]
    company_id: int | None
    deal_id: int | None
    data: dict = Field(description="Kind-specific details (stage change, audit changes, …).")
    created_at: datetime
    updated_at: datetime


SORTS = {
    "occurred": SortKey(Activity.occurred_at, datetime),
    "created": SortKey(Activity.created_at, datetime),
    "updated": SortKey(Activity.updated_at, datetime),
    "id": SortKey(Activity.id, int),
}


class ActivityQuery(ListQuery):
    contact: int | None = None
    company: int | None = None
    deal: int | None = None
    kind: Kind | None = None
    sort: Literal[
        "occurred", "-occurred", "created", "-created", "updated", "-updated", "id", "-id"
    ] = "-occurred"


def out(activity: Activity) -> dict:
    data = activity.data or {}
    return {
        "id": activity.id,
        "kind": activity.kind.value,
        "occurred_at": activity.occurred_at,
        "author_id": activity.author_id,
        "subject": activity.subject,
        "body": activity.body,
        "outcome": activity.outcome,
        "duration_minutes": activity.duration_minutes,
        "location": activity.location,
        "attendees": data.get("attendees") if activity.kind == ActivityKind.MEETING else None,
        "pinned": activity.pinned,
        "contact_ids": sorted(link.contact_id for link in activity.links),
        "company_id": activity.company_id,
        "deal_id": activity.deal_id,
        "data": data,
        "created_at": activity.created_at,
        "updated_at": activity.updated_at,
    }


def _select(query: ActivityQuery):
    stmt = scoped(Activity)
    if query.contact is not None:
        stmt = stmt.where(
            Activity.id.in_(
                select(ActivityContact.activity_id).where(
                    ActivityContact.contact_id == query.contact
                )
            )
        )
    if query.company is not None:
        stmt = stmt.where(Activity.company_id == query.company)
    if query.deal is not None:
        stmt = stmt.where(Activity.deal_id == query.deal)
    if query.kind:
        stmt = stmt.where(Activity.kind == ActivityKind(query.kind))
    return stmt.options(selectinload(Activity.links))


def _data(body: ActivityEdit, current: Activity | None = None) -> dict:
    """The timeline service's data dict; on PATCH, unsent fields keep their current values."""
    data = {}
    if current is not None:
        data = {
            "body": current.body,
            "subject": current.subject,
            "outcome": current.outcome,
            "duration_minutes": current.duration_minutes,
            "attendees": (current.data or {}).get("attendees"),
            "location": current.location,
        }
    for name in ActivityEdit.model_fields:
        if name in body.model_fields_set:
            data[name] = getattr(body, name)
    return data


def _create(body: ActivityIn) -> Activity:
    if body.contact_id is not None:
        target = get_or_404(Contact, body.contact_id)
    elif body.company_id is not None:
        target = get_or_404(Company, body.company_id)
    else:
        target = get_or_404(Deal, body.deal_id)
    data = _data(body)
    if body.follow_up_on:
        data["follow_up_on"] = body.follow_up_on
    activity = services.add_entry(target, actor_id(), body.kind, data)
    db.session.refresh(activity)
    return activity


register(
    Resource(
        "/activities",
        "activity_id",
        Activity,
        name="activity",
        plural="activities",
        tag="activities",
        out=out,
        response=ActivityOut,
        get="Get a timeline entry",
        listing=Listing(
            ActivityQuery,
            _select,
            SORTS,
            summary="List timeline entries",
            description="Newest first by default; filter by the record whose timeline it is "
            "on, or by kind.",
        ),
        create=Write(
            _create,
            summary="Log a note, call or meeting",
            description="On a contact's, company's or deal's timeline, exactly as the form on "
            "its page does.",
            body=ActivityIn,
        ),
        update=Write(
            lambda activity, body: services.update_entry(
                activity, actor_id(), _data(body, activity)
            ),
            summary="Edit your note, call or meeting",
            description="Only your own notes, calls and meetings (403 otherwise), as on the page.",
            body=ActivityEdit,
        ),
        delete=Write(
            lambda activity: services.delete_entry(activity, actor_id()),
            summary="Delete your note, call or meeting",
        ),
    )
)
