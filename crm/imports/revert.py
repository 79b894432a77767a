"""Reverting a finished import as a whole: remove what it created, restore what it changed."""

from __future__ import annotations

from sqlalchemy import delete, exists, select

from crm.errors import Conflict
from crm.extensions import db
from crm.imports import writer
from crm.kernel import custom_fields
from crm.models import (
    Activity,
    ActivityContact,
    ActivityKind,
    Company,
    Contact,
    Deal,
    ImportChange,
    ImportJob,
    ImportStatus,
    Task,
    deal_contact,
    utcnow,
)


def revert(job: ImportJob, actor_id: int | None) -> dict:
    """Undo a finished import as a whole: remove what it created, restore what it changed.

    A created contact or company that gained history since (timeline, deals, tasks; for a
    company also contacts) goes to the trash instead of being deleted, and an updated contact
    keeps the edits made since (listed in "kept"), custom values included, so reverting never
    destroys later work.
    """
    if job.status != ImportStatus.DONE or job.dry_run:
        raise Conflict("Only a finished import can be reverted.")
    changes = db.session.scalars(
        select(ImportChange)
        .where(ImportChange.import_id == job.id)
        .order_by(ImportChange.id.desc())
    ).all()
    counts: dict = {"removed": 0, "trashed": 0, "restored": 0}
    counts |= {"companies_removed": 0, "companies_trashed": 0, "kept": []}
    now = utcnow()
    for change in changes:
        if change.action == "note":  # a note a notes import wrote: removed with it
            activity = db.session.get(Activity, change.before["activity_id"])
            if activity is not None and activity.team_id == job.team_id:
                db.session.delete(activity)
                counts["notes_removed"] = counts.get("notes_removed", 0) + 1
    for change in changes:
        if change.action in ("company", "error", "note"):
            continue
        contact = db.session.get(Contact, change.contact_id) if change.contact_id else None
        if contact is None or contact.team_id != job.team_id:
            continue
        if change.action == "updated":
            kept = writer.restore(contact, change.before, actor_id)
            kept += custom_fields.revert(
                contact,
                change.before.get("custom", {}),
                change.before.get("custom_written", {}),
                actor_id,
            )
            counts["restored"] += 1
            if kept:
                counts["kept"].append({"id": contact.id, "name": contact.name, "fields": kept})
        elif _has_history(contact.id):
            contact.deleted_at, contact.deleted_by_id = now, actor_id
            counts["trashed"] += 1
        else:
            _delete_audit_entries(contact.id)
            custom_fields.drop("contact", contact.id)
            db.session.delete(contact)
            counts["removed"] += 1
    db.session.flush()
    for change in changes:
        if change.action == "company":
            company = db.session.get(Company, change.before["company_id"])
            if company is None or company.team_id != job.team_id or company.deleted_at:
                continue
            if db.session.scalar(
                select(
                    exists().where(Contact.company_id == company.id, Contact.deleted_at.is_(None))
                )
            ):
                continue  # people work with it: it stays as it is
            if _company_has_history(company.id):
                company.trash(actor_id)
                counts["companies_trashed"] += 1
            else:
                custom_fields.drop("company", company.id)
                db.session.delete(company)
                counts["companies_removed"] += 1
    job.status = ImportStatus.REVERTED
    job.reverted_at = now
    db.session.commit()
    return counts


def _has_history(contact_id: int) -> bool:
    """Work done on the contact: timeline entries people wrote, deals, tasks.

    Its own audit entries (created, changed by the import) are not history of that kind.
    """
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    ActivityContact.contact_id == contact_id,
                    ActivityContact.activity_id == Activity.id,
                    Activity.kind != ActivityKind.SYSTEM,
                )
                | exists().where(deal_contact.c.contact_id == contact_id)
                | exists().where(Task.contact_id == contact_id)
            )
        )
    )


def _company_has_history(company_id: int) -> bool:
    """What a created company may have gained since: contacts in the trash (an imported one
    with history of its own, say), timeline entries people wrote, deals and tasks."""
    return bool(
        db.session.scalar(
            select(
                exists().where(Contact.company_id == company_id)
                | exists().where(
                    Activity.company_id == company_id, Activity.kind != ActivityKind.SYSTEM
                )
                | exists().where(Deal.company_id == company_id)
                | exists().where(Task.company_id == company_id)
            )
        )
    )


def _delete_audit_entries(contact_id: int) -> None:
    """The system timeline entries of a contact about to be removed (its AuditEvents stay)."""
    db.session.execute(
        delete(Activity)
        .where(
            Activity.kind == ActivityKind.SYSTEM,
            Activity.id.in_(
                select(ActivityContact.activity_id).where(ActivityContact.contact_id == contact_id)
            ),
        )
        .execution_options(synchronize_session=False)
    )
