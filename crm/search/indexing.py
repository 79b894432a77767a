"""Turn CRM rows into search documents (see the dict shape in crm/search/engine.py).

Records are named by *source* kinds: "contact", "company", "deal", "task" and "activity"
(an activity becomes a note, call, meeting or email document). Everything is read in bulk
per kind with ``selectinload``, so a batch of N records costs a handful of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from flask import current_app, has_request_context, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.kernel import custom_fields, features
from crm.models import (
    Activity,
    ActivityContact,
    ActivityKind,
    Company,
    Contact,
    Deal,
    Task,
    Team,
)
from crm.security import scoped

SOURCES = ("contact", "company", "deal", "task", "activity")
MODELS = {"contact": Contact, "company": Company, "deal": Deal, "task": Task, "activity": Activity}
ACTIVITY_KINDS = ("note", "call", "meeting", "email")
_BATCH = 500


def declared_models() -> dict[str, type]:
    """The sources the installed features declare (crm/features.py), with their models."""
    return {s: MODELS[s] for s in features.search_sources() if s in MODELS}


def engine_kinds(source: str) -> tuple[str, ...]:
    """The document kinds a source record may be indexed as."""
    return ACTIVITY_KINDS if source == "activity" else (source,)


def _url(endpoint: str, **values: Any) -> str | None:
    """A record page's URL once that page exists in this build (features land separately)."""
    if endpoint not in current_app.view_functions:
        return None
    if has_request_context():
        return url_for(endpoint, **values)
    # Index jobs run with only an app context: build the path (no host) from the URL map.
    return current_app.url_map.bind("").build(endpoint, values)


def _join(*parts: Any) -> str:
    return "\n".join(str(p) for p in parts if p)


def _tags(row: Any) -> list[str]:
    return [t.name for t in getattr(row, "tags", None) or ()]


# -- one builder per source kind: (team_id, ids) -> {id: doc} ---------------------------


def _contacts(team_id: int, ids: list[int]) -> dict[int, dict]:
    rows = db.session.scalars(
        scoped(Contact, team_id=team_id)
        .where(Contact.id.in_(ids))
        .options(
            selectinload(Contact.emails),
            selectinload(Contact.phones),
            selectinload(Contact.tags),
            selectinload(Contact.company),
        )
    )
    docs = {}
    custom = custom_fields.search_text(team_id, "contact", ids)
    for c in rows:
        company = c.company.name if c.company and c.company.deleted_at is None else None
        subtitle = " at ".join(p for p in (c.title, company) if p) or (c.primary_email or "")
        docs[c.id] = {
            "team_id": c.team_id,
            "kind": "contact",
            "id": c.id,
            "title": c.name,
            "emails": [e.email for e in c.emails],
            "phones": [p.e164 for p in c.phones],
            "company": company,
            "body": _join(c.title, c.source, c.notes, custom.get(c.id)),
            "owner": c.owner_id,
            "tags": _tags(c),
            "url": _url("contacts.show", contact_id=c.id),
            "subtitle": subtitle,
            "updated": c.updated_at,
        }
    return docs


def _companies(team_id: int, ids: list[int]) -> dict[int, dict]:
    rows = db.session.scalars(
        scoped(Company, team_id=team_id)
        .where(Company.id.in_(ids))
        .options(selectinload(Company.tags))
    )
    custom = custom_fields.search_text(team_id, "company", ids)
    return {
        c.id: {
            "team_id": c.team_id,
            "kind": "company",
            "id": c.id,
            "title": c.name,
            "phones": [c.phone] if c.phone else [],
            "company": c.domain,
            "body": _join(c.industry, c.website, c.address_line, custom.get(c.id)),
            "owner": c.owner_id,
            "tags": _tags(c),
            "url": _url("companies.show", company_id=c.id),
            "subtitle": " · ".join(p for p in (c.domain, c.industry) if p),
            "updated": c.updated_at,
        }
        for c in rows
    }


def _deals(team_id: int, ids: list[int]) -> dict[int, dict]:
    rows = db.session.scalars(
        scoped(Deal, team_id=team_id)
        .where(Deal.id.in_(ids))
        .options(
            selectinload(Deal.company),
            selectinload(Deal.stage),
            selectinload(Deal.contacts),
            selectinload(Deal.tags),
        )
    )
    docs = {}
    custom = custom_fields.search_text(team_id, "deal", ids)
    for d in rows:
        company = d.company.name if d.company and d.company.deleted_at is None else None
        people = [c.name for c in d.contacts if c.deleted_at is None]
        docs[d.id] = {
            "team_id": d.team_id,
            "kind": "deal",
            "id": d.id,
            "title": d.title,
            "company": company,
            "body": _join(", ".join(people), d.lost_note, custom.get(d.id)),
            "owner": d.owner_id,
            "tags": _tags(d),
            "url": _url("deals.show", deal_id=d.id),
            "subtitle": " · ".join(
                p for p in (d.stage.name if d.stage else None, d.status.value, company) if p
            ),
            "updated": d.updated_at,
        }
    return docs


def _tasks(team_id: int, ids: list[int]) -> dict[int, dict]:
    rows = db.session.scalars(
        scoped(Task, team_id=team_id)
        .where(Task.id.in_(ids))
        .options(selectinload(Task.contact), selectinload(Task.company), selectinload(Task.deal))
    )
    docs = {}
    for t in rows:
        related = [
            r.name if hasattr(r, "name") else r.title
            for r in (t.contact, t.company, t.deal)
            if r is not None and getattr(r, "deleted_at", None) is None
        ]
        docs[t.id] = {
            "team_id": t.team_id,
            "kind": "task",
            "id": t.id,
            "title": t.title,
            "company": t.company.name if t.company and t.company.deleted_at is None else None,
            "body": _join(t.notes, ", ".join(related)),
            "owner": t.assignee_id,
            "url": _url("tasks.index"),
            "subtitle": " · ".join(["Done" if t.done_at else "Open", *related]),
            "updated": t.updated_at,
        }
    return docs


def _names(value: Any) -> list[str]:
    """Participants or attachments from an email's data: strings or dicts."""
    if not value:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            out.extend(
                str(item[k]) for k in ("name", "email", "filename", "address") if item.get(k)
            )
        elif item:
            out.append(str(item))
    return out


def _linked_people(team_id: int, activity_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    """Each activity's live contacts as (id, name), in contact id order.

    Two reads by primary key (the links of these activities, then those contacts) rather than
    one join: joined, a planner without statistics (right after `crm seed`) started from the
    team's contacts and walked all 100,000 of them for every batch of 500 activities.
    """
    links = db.session.execute(
        select(ActivityContact.activity_id, ActivityContact.contact_id).where(
            ActivityContact.activity_id.in_(activity_ids)
        )
    ).all()
    if not links:
        return {}
    names = {}
    contact_ids = sorted({contact_id for _, contact_id in links})
    for start in range(0, len(contact_ids), _BATCH):
        for contact_id, first, last in db.session.execute(
            select(Contact.id, Contact.first_name, Contact.last_name).where(
                Contact.id.in_(contact_ids[start : start + _BATCH]),
                Contact.team_id == team_id,
                Contact.deleted_at.is_(None),
            )
        ):
            names[contact_id] = f"{first} {last}".strip()
    people: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for activity_id, contact_id in sorted(links):
        if contact_id in names:
            people[activity_id].append((contact_id, names[contact_id]))
    return people


def _activities(team_id: int, ids: list[int]) -> dict[int, dict]:
    rows = db.session.scalars(
        scoped(Activity, team_id=team_id).where(
            Activity.id.in_(ids),
            Activity.kind.in_([ActivityKind(k) for k in ACTIVITY_KINDS]),
        )
    ).all()
    if not rows:
        return {}
    company_ids = {a.company_id for a in rows if a.company_id}
    companies = (
        dict(
            db.session.execute(
                scoped(Company, team_id=team_id)
                .with_only_columns(Company.id, Company.name)
                .where(Company.id.in_(company_ids))
            ).all()
        )
        if company_ids
        else {}
    )
    people = _linked_people(team_id, [a.id for a in rows])
    docs = {}
    for a in rows:
        linked = people.get(a.id, [])
        names = [n for _, n in linked]
        data = a.data or {}
        participants = [
            *_names(data.get("from")),
            *_names(data.get("to")),
            *_names(data.get("cc")),
            *_names(data.get("participants")),
        ]
        attachments = _names(data.get("attachments"))
        company = companies.get(a.company_id)
        if linked:
            url = _url("contacts.show", contact_id=linked[0][0])
        elif a.deal_id:
            url = _url("deals.show", deal_id=a.deal_id)
        elif a.company_id:
            url = _url("companies.show", company_id=a.company_id)
        else:
            url = None
        docs[a.id] = {
            "team_id": a.team_id,
            "kind": a.kind.value,
            "id": a.id,
            # Only a subject is a title: body words must not borrow the name boost.
            "title": a.subject,
            "emails": [p for p in participants if "@" in p],
            "company": company,
            "body": _join(
                a.body,
                " ".join(participants),
                " ".join(attachments),
                a.location,
                a.outcome,
            ),
            "owner": a.author_id,
            "url": url,
            "subtitle": " · ".join(
                [a.kind.value.title(), *names[:3], *([company] if company else [])]
            ),
            "updated": a.occurred_at,
        }
    return docs


BUILDERS = {
    "contact": _contacts,
    "company": _companies,
    "deal": _deals,
    "task": _tasks,
    "activity": _activities,
}


def resolve(items: Iterable[tuple[int, str, int]]) -> tuple[list[dict], list[tuple]]:
    """Read the truth for changed records: docs to upsert and (team, kind, id) to delete.

    A record that is gone, trashed or no longer searchable is deleted from the index.
    """
    wanted: dict[tuple[int, str], set[int]] = defaultdict(set)
    for team_id, source, record_id in items:
        if source in BUILDERS:
            wanted[(int(team_id), source)].add(int(record_id))
    docs: list[dict] = []
    deletes: list[tuple[int, str, int]] = []
    for (team_id, source), ids in wanted.items():
        found = BUILDERS[source](team_id, sorted(ids))
        for record_id in ids:
            doc = found.get(record_id)
            if doc is not None:
                docs.append(doc)
            for kind in engine_kinds(source):
                if doc is None or doc["kind"] != kind:
                    deletes.append((team_id, kind, record_id))
    return docs, deletes


def count_all() -> int:
    """How many records a rebuild reads (an upper bound of the documents)."""
    total = 0
    for model in declared_models().values():
        stmt = select(func.count()).select_from(model)
        if hasattr(model, "deleted_at"):
            stmt = stmt.where(model.deleted_at.is_(None))
        total += db.session.scalar(stmt) or 0
    return total


def iter_all(batch: int = _BATCH) -> Iterator[dict]:
    """Every searchable record of every team, streamed in batches by id."""
    team_ids = db.session.scalars(select(Team.id).order_by(Team.id)).all()
    for team_id in team_ids:
        for source, model in declared_models().items():
            last = 0
            while True:
                ids = db.session.scalars(
                    scoped(model, team_id=team_id)
                    .with_only_columns(model.id)
                    .where(model.id > last)
                    .order_by(model.id)
                    .limit(batch)
                ).all()
                if not ids:
                    break
                last = ids[-1]
                found = BUILDERS[source](team_id, ids)
                yield from (found[i] for i in ids if i in found)
                db.session.expunge_all()  # keep memory flat over a million rows


def changed_since(since) -> list[tuple[int, str, int]]:
    """Records updated at or after ``since`` (re-sent after a rebuild that ran meanwhile)."""
    items = []
    for source, model in declared_models().items():
        for team_id, record_id in db.session.execute(
            select(model.team_id, model.id).where(model.updated_at >= since)
        ):
            items.append((team_id, source, record_id))
    return items
