"""Entries people write on a timeline: notes, calls and meetings (recording any entry is
crm.kernel.timeline.record)."""

from __future__ import annotations

from datetime import datetime

from crm.extensions import db
from crm.kernel.timeline import record
from crm.models import Activity, ActivityKind, Company, Contact, Deal, utcnow

# --- Entries people write: notes, calls, meetings ---------------------------------------------

WRITABLE = (ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING)
CALL_OUTCOMES = ("connected", "left voicemail", "no answer", "busy", "wrong number")


def _links_for(target) -> dict:
    """Which contacts, company and deal an entry written on `target`'s timeline belongs to."""
    if isinstance(target, Contact):
        return {"contact_ids": [target.id], "company_id": target.company_id}
    if isinstance(target, Company):
        return {"contact_ids": [], "company_id": target.id}
    if isinstance(target, Deal):
        return {
            "contact_ids": [c.id for c in getattr(target, "contacts", [])],
            "company_id": getattr(target, "company_id", None),
            "deal_id": target.id,
        }
    raise TypeError(f"no timeline for {type(target).__name__}")


def _entry_fields(kind: ActivityKind, data: dict) -> dict:
    from crm.errors import Invalid

    body = (data.get("body") or "").strip()
    fields: dict = {"body": body or None, "subject": (data.get("subject") or "").strip() or None}
    if kind == ActivityKind.NOTE and not body:
        raise Invalid("Write the note first.", field="body")
    if kind == ActivityKind.CALL:
        outcome = (data.get("outcome") or "").strip() or None
        if outcome and outcome not in CALL_OUTCOMES:
            raise Invalid("Choose an outcome from the list.", field="outcome")
        duration = data.get("duration_minutes")
        if duration in ("", None):
            duration = None
        else:
            try:
                duration = int(duration)
            except (TypeError, ValueError):
                raise Invalid("Minutes must be a number.", field="duration_minutes") from None
            if not 0 <= duration <= 24 * 60:
                raise Invalid("Minutes must be between 0 and 1440.", field="duration_minutes")
        fields.update(outcome=outcome, duration_minutes=duration)
    if kind == ActivityKind.MEETING:
        attendees = (data.get("attendees") or "").strip()
        fields["data"] = {"attendees": attendees[:500]} if attendees else {}
        fields["location"] = (data.get("location") or "").strip()[:300] or None
        if not body and not attendees and not data.get("occurred_at"):
            raise Invalid("Say when the meeting was, who came or what was said.", field="body")
    return fields


def add_entry(target, actor_id: int | None, kind: str, data: dict) -> Activity:
    """Log a note, call or meeting on a contact's, company's or deal's timeline; commits.

    data: body, subject, outcome, duration_minutes (calls), occurred_at (aware datetime),
    attendees, location (meetings), follow_up_on (a date: creates a follow-up task).
    """
    from crm.errors import Invalid

    try:
        kind = ActivityKind(kind)
    except ValueError:
        kind = None
    if kind not in WRITABLE:
        raise Invalid("Choose note, call or meeting.", field="kind")
    fields = _entry_fields(kind, data)
    activity = record(
        team_id=target.team_id,
        kind=kind,
        author_id=actor_id,
        occurred_at=data.get("occurred_at") or None,
        **_links_for(target),
        **fields,
    )
    db.session.flush()
    if data.get("follow_up_on"):
        create_follow_up(
            target,
            actor_id,
            due_on=data["follow_up_on"],
            title=f"Follow up: {_target_name(target)}",
            activity=activity,
        )
    db.session.commit()
    return activity


def update_entry(activity: Activity, actor_id: int | None, data: dict) -> Activity:
    """Edit your own note, call or meeting (others' entries and system entries are read-only)."""
    check_can_edit(activity, actor_id)
    fields = _entry_fields(activity.kind, data)
    extra = fields.pop("data", None)
    for key, value in fields.items():
        setattr(activity, key, value)
    if extra is not None:
        activity.data = {**(activity.data or {}), **extra}
    if data.get("occurred_at"):
        _move(activity, data["occurred_at"])
    db.session.commit()
    return activity


def delete_entry(activity: Activity, actor_id: int | None) -> Activity:
    """Hide an entry (soft delete: it can be brought back with restore_entry)."""
    check_can_edit(activity, actor_id)
    activity.deleted_at = utcnow()
    db.session.commit()
    return activity


def restore_entry(activity: Activity, actor_id: int | None) -> Activity:
    check_can_edit(activity, actor_id)
    activity.deleted_at = None
    db.session.commit()
    return activity


def set_pinned(activity: Activity, actor_id: int | None, pinned: bool) -> Activity:
    """Pin an entry to the top of its timelines (anyone in the team may pin)."""
    from crm.errors import Invalid

    if activity.kind == ActivityKind.SYSTEM:
        raise Invalid("System entries cannot be pinned.")
    activity.pinned = pinned
    db.session.commit()
    return activity


def can_edit(activity: Activity, user_id: int | None) -> bool:
    return activity.kind in WRITABLE and user_id is not None and activity.author_id == user_id


def check_can_edit(activity: Activity, actor_id: int | None) -> None:
    from crm.errors import Forbidden

    if not can_edit(activity, actor_id):
        raise Forbidden("You can only change your own notes, calls and meetings.")


def _move(activity: Activity, when: datetime) -> None:
    activity.occurred_at = when
    for link in activity.links:
        link.occurred_at = when


def _target_name(target) -> str:
    return getattr(target, "name", None) or getattr(target, "title", "") or ""


def create_follow_up(target, actor_id, *, due_on, title: str, activity: Activity | None = None):
    """The composer's follow-up: a task on the same record, due on `due_on`, for its author."""
    from crm.tasks.services import create_task  # noqa: PLC0415 (tasks import the timeline)

    links = _links_for(target)
    return create_task(
        target.team_id,
        actor_id,
        title=title[:300],
        due_at=due_on,
        all_day=True,
        assignee_id=actor_id,
        contact_id=(links["contact_ids"] or [None])[0],
        company_id=links.get("company_id"),
        deal_id=links.get("deal_id"),
    )
