"""One row of a notes import: a past note put on the timeline of the contact and/or company it
names (imported before: by the other product's id, else by email, else by name), with its
original date, written by the member the file names (else by nobody: "Imported").

The same note (same date and text on the same team) found again is skipped, so a notes file
imported twice does not double the history. A written note is recorded as a "note" change, so
reverting the import removes it.
"""

from __future__ import annotations

from datetime import datetime

from dateutil import parser as date_parser
from sqlalchemy import func, select

from crm.errors import Invalid
from crm.extensions import db
from crm.imports import links
from crm.kernel import companies, dates, timeline
from crm.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    ContactEmail,
    ImportChange,
    ImportJob,
)

SUBJECT_MAX = 300


def _cells(cells: list[str], mapping: dict[str, str]) -> dict[str, str]:
    data = {}
    for index, field in mapping.items():
        i = int(index)
        if i < len(cells) and cells[i].strip():
            data[field] = cells[i].strip().replace("\r\n", "\n").replace("\r", "\n")
    return data


def _when(text: str | None) -> datetime | None:
    """The note's date as UTC ("2024-03-01 10:00", "03/01/2024", ISO with an offset); a date
    without a zone is read as UTC."""
    if not text:
        return None
    try:
        value = date_parser.parse(text)
    except (ValueError, OverflowError):
        raise Invalid(f"{text!r} is not a date.") from None
    return dates.to_utc(value)


def _contact(team_id: int, source: str, raw: dict) -> Contact | None:
    if raw.get("contact_external_id"):
        first = raw["contact_external_id"].replace(";", ",").split(",")[0]
        found = links.external_record(Contact, team_id, source, first)
        if found is not None and found.deleted_at is None:
            return found
    if raw.get("contact_email"):
        found = db.session.scalars(
            select(Contact)
            .join(ContactEmail, ContactEmail.contact_id == Contact.id)
            .where(
                ContactEmail.team_id == team_id,
                ContactEmail.email == raw["contact_email"].lower(),
                Contact.deleted_at.is_(None),
            )
        ).first()
        if found is not None:
            return found
    if raw.get("contact_name"):
        named = db.session.scalars(
            select(Contact)
            .where(
                Contact.team_id == team_id,
                Contact.sort_name == " ".join(raw["contact_name"].split()).lower(),
                Contact.deleted_at.is_(None),
            )
            .limit(2)
        ).all()
        if len(named) == 1:  # two people of that name: not a guess to make
            return named[0]
    return None


def _company(team_id: int, source: str, raw: dict) -> Company | None:
    if raw.get("company_external_id"):
        first = raw["company_external_id"].replace(";", ",").split(",")[0]
        found = links.external_record(Company, team_id, source, first)
        if found is not None and found.deleted_at is None:
            return found
    return companies.find(team_id, name=raw["company"]) if raw.get("company") else None


def one_row(job: ImportJob, number: int, cells: list[str], memory) -> dict:
    raw = _cells(cells, job.mapping)
    body = raw.get("body", "")
    outcome = {"row": number, "name": body[:60], "match": None}
    try:
        if not body:
            raise Invalid("The note has no text.")
        occurred_at = _when(raw.get("occurred_at"))
    except Invalid as error:
        return outcome | {"action": "error", "error": error.message}
    source = links.external_source(job)
    contact, company = _contact(job.team_id, source, raw), _company(job.team_id, source, raw)
    if contact is None and company is None:
        error = "No contact or company in Rapport matches this note: import them first."
        return outcome | {"action": "error", "error": error}
    outcome["name"] = f"{contact.name if contact else company.name}: {body[:60]}"
    author_id = None
    if raw.get("author"):
        author_id = links.owner_id(job.team_id, raw["author"], memory.owners)
        if author_id is None:
            outcome["note"] = f"“{raw['author']}” is not a member of this team: shown as Imported."
    if occurred_at is not None:
        seen = db.session.scalar(
            select(func.count())
            .select_from(Activity)
            .where(
                Activity.team_id == job.team_id,
                Activity.kind == ActivityKind.NOTE,
                Activity.occurred_at == occurred_at,
                Activity.body == body,
            )
        )
        if seen:
            return outcome | {"action": "skipped", "match": "the same note"}
    if job.dry_run:
        return outcome | {"action": "created"}
    activity = timeline.record(
        team_id=job.team_id,
        kind=ActivityKind.NOTE,
        author_id=author_id,
        contact_ids=[contact.id] if contact else [],
        company_id=company.id if company else (contact.company_id if contact else None),
        subject=(raw.get("subject") or "")[:SUBJECT_MAX] or None,
        body=body,
        occurred_at=occurred_at,
        data={"imported": job.profile or "CSV"},
    )
    db.session.flush()
    db.session.add(
        ImportChange(
            import_id=job.id,
            row_number=number,
            contact_id=contact.id if contact else None,
            action="note",
            before={"activity_id": activity.id},
        )
    )
    return outcome | {"action": "created"}
