"""Recording a timeline entry: one Activity, its contact links, and "last activity" kept fresh.

Promise: record() is the only way an Activity is written. It links the entry to each contact
once (in the order given), to a company and a deal when given, and moves last_activity_at
forward (never back) on everything linked, unless the entry is a system entry or the caller
asks to do that itself (touch=False). The caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update

from crm.extensions import db
from crm.models import Activity, ActivityContact, ActivityKind, Company, Contact, Deal, utcnow


def record(
    *,
    team_id: int,
    kind: ActivityKind,
    author_id: int | None = None,
    contact_ids: Iterable[int] = (),
    company_id: int | None = None,
    deal_id: int | None = None,
    subject: str | None = None,
    body: str | None = None,
    occurred_at: datetime | None = None,
    data: dict | None = None,
    touch: bool = True,
    **fields,
) -> Activity:
    """Add an activity linked to contacts (and a company, a deal); the caller commits.

    Also moves last_activity_at forward on everything it is linked to, which the lists
    ("no activity for N days") and the deal board (rotting) read; `touch=False` leaves that to
    the caller (email-in does it once per batch, in id order, so workers never deadlock).
    """
    occurred_at = occurred_at or utcnow()
    contact_ids = list(dict.fromkeys(contact_ids))
    activity = Activity(
        team_id=team_id,
        kind=kind,
        author_id=author_id,
        company_id=company_id,
        deal_id=deal_id,
        subject=subject,
        body=body,
        occurred_at=occurred_at,
        data=data or {},
        **fields,
    )
    activity.links = [
        ActivityContact(contact_id=cid, occurred_at=occurred_at) for cid in contact_ids
    ]
    db.session.add(activity)
    if touch and kind != ActivityKind.SYSTEM:
        _touch(Contact, contact_ids, team_id, occurred_at)
        _touch(Company, [company_id] if company_id else [], team_id, occurred_at)
        _touch(Deal, [deal_id] if deal_id else [], team_id, occurred_at)
    return activity


def _touch(model, ids: list[int], team_id: int, when: datetime) -> None:
    if not ids:
        return
    db.session.execute(
        update(model)
        .where(
            model.team_id == team_id,
            model.id.in_(ids),
            (model.last_activity_at.is_(None)) | (model.last_activity_at < when),
        )
        .values(last_activity_at=when)
        .execution_options(synchronize_session=False)
    )
