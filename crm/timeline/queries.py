"""Reading timelines: newest first, keyset pages over (occurred_at, id), pinned entries apart.

A contact's page is one index scan of activity_contact (contact_id, occurred_at, activity_id);
a company's merges two scans (its own entries and its people's); a deal's scans
activity (deal_id, occurred_at, id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.kernel import paging
from crm.models import Activity, ActivityContact, ActivityKind, Company, Contact, Deal

PAGE_SIZE = 30
FILTERS = {
    "notes": [ActivityKind.NOTE],
    "calls": [ActivityKind.CALL],
    "meetings": [ActivityKind.MEETING],
    "emails": [ActivityKind.EMAIL],
    "changes": [ActivityKind.SYSTEM, ActivityKind.STAGE_CHANGE, ActivityKind.TASK_DONE],
}


@dataclass
class TimelinePage:
    items: list[Activity]
    pinned: list[Activity] = field(default_factory=list)
    next_cursor: str | None = None


def _before(time_col, id_col, cursor):
    return paging.after(time_col, id_col, *cursor, desc=True)


def _activity_filters(stmt, kinds, *, pinned: bool | None):
    stmt = stmt.where(Activity.deleted_at.is_(None))
    if kinds:
        stmt = stmt.where(Activity.kind.in_(kinds))
    if pinned is not None:
        stmt = stmt.where(Activity.pinned.is_(pinned))
    return stmt


def _keys(target, cursor, kinds, limit, pinned) -> list[tuple[datetime, int]]:
    """(occurred_at, id) of the next `limit` entries on the target's timeline, newest first."""
    selects = []
    if isinstance(target, Contact | Company):
        via_people = (
            select(ActivityContact.occurred_at, ActivityContact.activity_id)
            .join(Activity, Activity.id == ActivityContact.activity_id)
            .order_by(ActivityContact.occurred_at.desc(), ActivityContact.activity_id.desc())
        )
        if isinstance(target, Contact):
            via_people = via_people.where(ActivityContact.contact_id == target.id)
        else:
            people = select(Contact.id).where(
                Contact.team_id == target.team_id, Contact.company_id == target.id
            )
            via_people = via_people.where(ActivityContact.contact_id.in_(people))
        if cursor:
            via_people = via_people.where(
                _before(ActivityContact.occurred_at, ActivityContact.activity_id, cursor)
            )
        selects.append(_activity_filters(via_people, kinds, pinned=pinned))
    if isinstance(target, Company | Deal):
        column = Activity.company_id if isinstance(target, Company) else Activity.deal_id
        own = (
            select(Activity.occurred_at, Activity.id)
            # No team_id term here: the target is already team-checked, and with it the
            # planner may walk the team's whole timeline instead of this record's index.
            .where(column == target.id)
            .order_by(Activity.occurred_at.desc(), Activity.id.desc())
        )
        if cursor:
            own = own.where(_before(Activity.occurred_at, Activity.id, cursor))
        selects.append(_activity_filters(own, kinds, pinned=pinned))
    keys: set[tuple[datetime, int]] = set()
    for stmt in selects:
        keys.update((when, ident) for when, ident in db.session.execute(stmt.limit(limit)))
    return sorted(keys, key=lambda k: (k[0], k[1]), reverse=True)[:limit]


def _load(ids: list[int]) -> list[Activity]:
    if not ids:
        return []
    rows = db.session.scalars(
        select(Activity).where(Activity.id.in_(ids)).options(selectinload(Activity.author))
    ).all()
    by_id = {a.id: a for a in rows}
    return [by_id[i] for i in ids if i in by_id]


def timeline_page(
    target, *, cursor: str | None = None, kind: str | None = None, limit: int | None = None
) -> TimelinePage:
    """One page of the timeline of a Contact, Company or Deal (already team-checked)."""
    limit = limit or PAGE_SIZE
    kinds = FILTERS.get(kind or "")
    position = paging.decode(cursor, datetime, int)
    keys = _keys(target, position, kinds, limit + 1, pinned=None if kind else False)
    more = len(keys) > limit
    items = _load([ident for _, ident in keys[:limit]])
    pinned = []
    if position is None and not kind:
        pinned_keys = _keys(target, None, None, 20, pinned=True)
        pinned = _load([ident for _, ident in pinned_keys])
    return TimelinePage(
        items=items,
        pinned=pinned,
        next_cursor=paging.encode(items[-1].occurred_at, items[-1].id) if more else None,
    )
