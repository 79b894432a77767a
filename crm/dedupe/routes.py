"""Likely duplicates and the merge screen (thin views)."""

from __future__ import annotations

from flask import flash, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from crm.dedupe import bp, services
from crm.dedupe.forms import merge_form
from crm.extensions import db
from crm.htmx import hx_redirect, render, trigger
from crm.models import (
    ActivityContact,
    Company,
    Contact,
    ContactMerge,
    Lifecycle,
    Task,
    User,
    deal_contact,
)
from crm.security import current_team, get_or_404


@bp.get("/contacts/duplicates")
def pairs():
    return render_template("dedupe/pairs.html", pairs=services.duplicate_pairs(current_team().id))


@bp.get("/contacts/<id:contact_id>/duplicates")
def for_contact(contact_id: int):
    """Likely duplicates of one contact: the contact page can load this partial."""
    contact = get_or_404(Contact, contact_id)
    data = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "company_id": contact.company_id,
        "emails": [e.email for e in contact.emails],
        "phones": [p.e164 for p in contact.phones],
    }
    found = services.find_duplicates(contact.team_id, data, exclude_id=contact.id)
    return render(
        "dedupe/contact_duplicates.html",
        "dedupe/_duplicates.html",
        contact=contact,
        duplicates=found,
    )


def _display(contact: Contact, key: str) -> str:
    value = getattr(contact, key)
    if value is None or value == "":
        return ""
    if key == "company_id":
        return db.session.get(Company, value).name if db.session.get(Company, value) else ""
    if key == "owner_id":
        user = db.session.get(User, value)
        return user.name if user else ""
    if isinstance(value, Lifecycle):
        return value.label
    return str(value)


def _counts(contact: Contact) -> dict:
    def count(stmt):
        return db.session.scalar(stmt)

    return {
        "emails": len(contact.emails),
        "phones": len(contact.phones),
        "activities": count(
            select(func.count())
            .select_from(ActivityContact)
            .where(ActivityContact.contact_id == contact.id)
        ),
        "deals": count(
            select(func.count())
            .select_from(deal_contact)
            .where(deal_contact.c.contact_id == contact.id)
        ),
        "tasks": count(select(func.count()).select_from(Task).where(Task.contact_id == contact.id)),
        "tags": len(contact.tags),
    }


@bp.route("/contacts/<id:contact_id>/merge/<id:other_id>", methods=["GET", "POST"])
def merge(contact_id: int, other_id: int):
    kept = get_or_404(Contact, contact_id)
    other = get_or_404(Contact, other_id)
    rows = [
        (key, label, _display(kept, key), _display(other, key))
        for key, label in services.MERGE_FIELDS
    ]
    form = merge_form(rows)
    if form.validate_on_submit():
        choices = {key: getattr(form, f"field_{key}").data for key, *_ in rows}
        record = services.merge(kept, other, current_user.id, choices)
        flash(f"Merged {other.name} into {kept.name}. You can undo this for 30 days.", "success")
        response = hx_redirect(url_for("dedupe.merged", merge_id=record.id))
        return trigger(response, "contacts-merged", {"kept": kept.id, "merged": other.id})
    return render_template(
        "dedupe/merge.html",
        kept=kept,
        other=other,
        rows=rows,
        form=form,
        moves=_counts(other),
    ), 422 if form.errors else 200


@bp.get("/contacts/merges/<id:merge_id>")
def merged(merge_id: int):
    record = get_or_404(ContactMerge, merge_id)
    kept = db.session.get(Contact, record.kept_id)
    other = db.session.get(Contact, record.merged_id)
    return render(
        "dedupe/merged.html",
        "dedupe/_merged.html",
        record=record,
        kept=kept,
        other=other,
        can_undo=services.can_undo(record),
    )


@bp.post("/contacts/merges/<id:merge_id>/undo")
def undo(merge_id: int):
    record = get_or_404(ContactMerge, merge_id)
    other = services.undo(record, current_user.id)
    kept = db.session.get(Contact, record.kept_id)
    response = render(
        "dedupe/merged.html",
        "dedupe/_merged.html",
        record=record,
        kept=kept,
        other=other,
        can_undo=False,
    )
    return trigger(response, "merge-undone", {"kept": kept.id, "restored": other.id})
