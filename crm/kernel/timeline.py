"""Recording a timeline entry: one Activity, its contact links, and "last activity" kept fresh.

Promise: record() is the only way an Activity is written. It links the entry to each contact
once (in the order given), to a company and a deal when given, and moves last_activity_at
forward (never back) on everything linked, unless the entry is a system entry or the caller
asks to do that itself (touch=False). The caller commits.

record_many() writes many entries of one kind under the same rules, as batched INSERTs without
ORM objects (a bulk send logs thousands of mails in one transaction). Rows it writes never pass
through a flush, so it lists them on the session (`take_bulk_written()`): the search index's
commit hook reads that list, as it reads flushed objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert, update

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


_WRITTEN = "crm.timeline.bulk_written"


def record_many(
    *,
    team_id: int,
    kind: ActivityKind,
    author_id: int | None,
    occurred_at: datetime,
    entries: list[dict],
    touch: bool = True,
) -> list[int]:
    """Add one activity per entry ({"contact_ids", "company_id", "deal_id", "subject", "body",
    "data"}), linked like record() does; returns their ids in the entries' order. The caller
    commits. Statements: one batched INSERT per table (more on a database that cannot return
    the ids of a batch in order, SQLite: one per row there, without ORM objects)."""
    if not entries:
        return []
    now = utcnow()
    ids = list(
        db.session.scalars(
            insert(Activity).returning(Activity.id, sort_by_parameter_order=True),
            [
                {
                    "team_id": team_id,
                    "kind": kind,
                    "author_id": author_id,
                    "company_id": entry.get("company_id"),
                    "deal_id": entry.get("deal_id"),
                    "subject": entry.get("subject"),
                    "body": entry.get("body"),
                    "occurred_at": occurred_at,
                    "data": entry.get("data") or {},
                    "created_at": now,
                    "updated_at": now,
                }
                for entry in entries
            ],
        )
    )
    links = [
        {"activity_id": ident, "contact_id": cid, "occurred_at": occurred_at}
        for ident, entry in zip(ids, entries, strict=True)
        for cid in dict.fromkeys(entry.get("contact_ids") or ())
    ]
    if links:
        db.session.execute(insert(ActivityContact), links)
    db.session.info.setdefault(_WRITTEN, set()).update((team_id, ident) for ident in ids)
    if touch and kind != ActivityKind.SYSTEM:
        contact_ids = sorted({link["contact_id"] for link in links})
        companies = sorted({e["company_id"] for e in entries if e.get("company_id")})
        deals = sorted({e["deal_id"] for e in entries if e.get("deal_id")})
        for chunk in range(0, len(contact_ids), 500):
            _touch(Contact, contact_ids[chunk : chunk + 500], team_id, occurred_at)
        for chunk in range(0, len(companies), 500):
            _touch(Company, companies[chunk : chunk + 500], team_id, occurred_at)
        for chunk in range(0, len(deals), 500):
            _touch(Deal, deals[chunk : chunk + 500], team_id, occurred_at)
    return ids


def take_bulk_written(session, *, keep: bool = False) -> set[tuple[int, int]]:
    """(team_id, activity_id) of the entries record_many() wrote in this session's transaction;
    emptied unless `keep` (a savepoint released: the rows are not committed yet)."""
    if keep:
        return set(session.info.get(_WRITTEN, ()))
    return session.info.pop(_WRITTEN, set())
