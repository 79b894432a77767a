"""Writing contacts: create, update (with an audit trail), trash and restore, bulk actions.

Services take plain arguments, own the commit and raise domain errors; views, the CSV import,
the CLI and tests all call them. `data` dicts hold only the keys to change (partial updates).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select

from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import audit, events, members, tags
from crm.kernel import normalize as norm
from crm.kernel.fields import CONTACT_LIMITS, clean_text, phone_region
from crm.models import (
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    Lifecycle,
    utcnow,
)

TRASH_DAYS = 30

LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "title": "Title",
    "company_id": "Company",
    "emails": "Emails",
    "phones": "Phones",
    "website": "Website",
    "social": "Social profiles",
    "tags": "Tags",
    "owner_id": "Owner",
    "lifecycle": "Stage",
    "source": "Source",
    "street": "Street",
    "city": "City",
    "region": "Region",
    "postal_code": "Postal code",
    "country": "Country",
    "notes": "Notes",
}
# Free-text fields the service cleans (limits: crm/kernel/fields.py).
TEXT_FIELDS = {
    key: CONTACT_LIMITS[key]
    for key in ("title", "source", "street", "city", "region", "postal_code", "country", "notes")
}
EMAIL_LABELS = ("work", "personal", "other")
PHONE_LABELS = ("mobile", "work", "home", "other")
# A save may not take a contact past this many emails (or phones); one that already has more
# (a merge of two long lists) can still be edited, it just cannot grow.
MAX_PER_CONTACT = 50


# --- field helpers ------------------------------------------------------------------------------


def resolve_company(team_id: int, company_id) -> Company | None:
    if company_id in (None, "", 0):
        return None
    company = db.session.scalars(
        select(Company).where(
            Company.team_id == team_id,
            Company.id == int(company_id),
            Company.deleted_at.is_(None),
        )
    ).first()
    if company is None:
        raise Invalid("That company does not exist.", field="company_id")
    return company


# --- contacts ---------------------------------------------------------------------------------


def _audit(contact: Contact, actor_id: int | None, action: str, changes=None) -> None:
    audit.write(
        team_id=contact.team_id,
        actor_id=actor_id,
        entity_type="contact",
        entity_id=contact.id,
        action=action,
        changes=changes,
        timeline=True,
        contact_ids=[contact.id],
    )
    events.audited(
        "contact",
        action,
        team_id=contact.team_id,
        record_id=contact.id,
        actor_id=actor_id,
        changes=changes,
    )


def create_contact(
    team_id: int, actor_id: int | None, data: dict, *, commit: bool = True
) -> Contact:
    """A new contact from `data` (see LABELS for the keys); raises Invalid on bad input.

    commit=False leaves the commit to the caller (the CSV import writes each row in a savepoint).
    """
    contact = Contact(team_id=team_id, social={}, lifecycle=Lifecycle.LEAD, emails=[], phones=[])
    if actor_id and "owner_id" not in data:
        data = {**data, "owner_id": actor_id}
    with db.session.no_autoflush:
        _apply(contact, data)
    db.session.add(contact)
    db.session.flush()
    _audit(contact, actor_id, "create")
    if commit:
        db.session.commit()
    return contact


def update_contact(
    contact: Contact, actor_id: int | None, data: dict, *, commit: bool = True
) -> Contact:
    """Change the given fields; each changed field is audited (old → new) on the timeline."""
    with db.session.no_autoflush:
        changes = _apply(contact, data)
    if changes:
        _audit(contact, actor_id, "update", changes)
    if commit:
        db.session.commit()
    return contact


def delete_contact(contact: Contact, actor_id: int | None) -> Contact:
    """Move to the trash (restorable for TRASH_DAYS days); nothing is destroyed."""
    if contact.trash(actor_id):
        _audit(contact, actor_id, "delete")
    db.session.commit()
    return contact


def restore_contact(contact: Contact, actor_id: int | None) -> Contact:
    if contact.untrash():
        _audit(contact, actor_id, "restore")
    db.session.commit()
    return contact


BULK_ACTIONS = ("tag", "owner", "stage", "delete")


def bulk_update(team_id: int, actor_id: int | None, ids, action: str, value=None) -> int:
    """Apply one action to many contacts of the team, in one transaction; returns the count."""
    if action not in BULK_ACTIONS:
        raise Invalid("Choose what to do with the selected contacts.")
    ids = [int(i) for i in ids or []][:5000]
    if not ids:
        raise Invalid("Select at least one contact.")
    contacts = db.session.scalars(
        select(Contact).where(
            Contact.team_id == team_id, Contact.id.in_(ids), Contact.deleted_at.is_(None)
        )
    ).all()
    if action == "tag" and not (value or "").strip():
        raise Invalid("Type the tag to add.")
    for contact in contacts:
        if action == "delete":
            contact.trash(actor_id)
            changes, act = {}, "delete"
        else:
            if action == "tag":
                data = {"tags": [t.name for t in contact.tags] + [value]}
            elif action == "owner":
                data = {"owner_id": value or None}
            else:
                data = {"lifecycle": value}
            with db.session.no_autoflush:
                changes = _apply(contact, data)
            act = "update"
            if not changes:
                continue
        _audit(contact, actor_id, act, changes)
    db.session.commit()
    return len(contacts)


def purge_trash() -> int:
    """Destroy contacts, companies and deals in the trash for more than TRASH_DAYS."""
    cutoff = utcnow() - timedelta(days=TRASH_DAYS)
    purged = 0
    for model in (Deal, Contact, Company):
        result = db.session.execute(
            delete(model)
            .where(model.deleted_at.is_not(None), model.deleted_at < cutoff)
            .execution_options(synchronize_session=False)
        )
        purged += result.rowcount or 0
    db.session.commit()
    return purged


# --- applying data ----------------------------------------------------------------------------


def _apply(contact: Contact, data: dict) -> dict:
    """Normalize and set the given fields; return {label: [old, new]} of what changed."""
    team_id = contact.team_id
    before, after = {}, {}

    def change(key, old_shown, new_shown):
        if old_shown != new_shown:
            before[key], after[key] = old_shown, new_shown

    for key in ("first_name", "last_name"):
        if key in data:
            value = clean_text(data[key], CONTACT_LIMITS[key], key) or ""
            change(key, audit.show(getattr(contact, key)), audit.show(value))
            setattr(contact, key, value)
    for key, max_len in TEXT_FIELDS.items():
        if key in data:
            value = clean_text(data[key], max_len, key)
            shown = audit.show(value) if key != "notes" else _short(value)
            old = audit.show(getattr(contact, key)) if key != "notes" else _short(contact.notes)
            change(key, old, shown)
            setattr(contact, key, value)
    if "website" in data:
        value = _norm(norm.website, data["website"], "website")
        change("website", audit.show(contact.website), audit.show(value))
        contact.website = value
    if "social" in data:
        social = {}
        for network, url in (data["social"] or {}).items():
            if url and str(url).strip():
                social[str(network).lower()[:30]] = _norm(norm.website, url, f"social.{network}")
        change("social", audit.show(contact.social or {}), audit.show(social))
        contact.social = social
    if "lifecycle" in data:
        try:
            value = Lifecycle(data["lifecycle"] or Lifecycle.LEAD)
        except ValueError:
            raise Invalid("Choose a lifecycle stage from the list.", field="lifecycle") from None
        old = contact.lifecycle.label if contact.lifecycle else audit.EMPTY
        change("lifecycle", old, value.label)
        contact.lifecycle = value
    if "owner_id" in data:
        owner = members.check_member(team_id, data["owner_id"], field="owner_id")
        change(
            "owner_id",
            audit.show(members.user_name(contact.owner_id)),
            audit.show(owner.name if owner else None),
        )
        contact.owner_id = owner.id if owner else None
    if "company_id" in data:
        company = resolve_company(team_id, data["company_id"])
        old = db.session.get(Company, contact.company_id) if contact.company_id else None
        change(
            "company_id",
            audit.show(old.name if old else None),
            audit.show(company.name if company else None),
        )
        contact.company_id = company.id if company else None
    if "tags" in data:
        new_tags = tags.find_or_create(team_id, data["tags"])
        change(
            "tags",
            audit.show([t.name for t in contact.tags]),
            audit.show([t.name for t in new_tags]),
        )
        contact.tags = new_tags
    if "emails" in data:
        old = [e.email for e in contact.emails]
        _set_emails(contact, data["emails"] or [])
        change("emails", audit.show(old), audit.show([e.email for e in contact.emails]))
    if "phones" in data:
        old = [norm.format_phone(p.e164) for p in contact.phones]
        _set_phones(contact, data["phones"] or [])
        new = [norm.format_phone(p.e164) for p in contact.phones]
        change("phones", audit.show(old), audit.show(new))

    contact.sort_name = norm.sort_name(contact.first_name, contact.last_name)
    if not contact.sort_name and not contact.emails:
        raise Invalid("Give the contact a name or an email address.", field="first_name")
    if not contact.sort_name:
        contact.sort_name = contact.emails[0].email
    if before and contact.id:  # tags, emails or phones alone change no column: sync must see it
        contact.updated_at = utcnow()
    return {LABELS[k]: [before[k], after[k]] for k in before}


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return audit.EMPTY if not text else (text if len(text) <= 60 else text[:57] + "…")


def _norm(func, value, field):
    try:
        return func(value)
    except norm.BadValue as error:
        raise Invalid(str(error), field=field) from None


def _label(value, allowed, default) -> str:
    value = (value or "").strip().lower()[:30]
    return value if value else default


def _check_count(new: int, old: int, field: str, what: str) -> None:
    if new > max(MAX_PER_CONTACT, old):
        raise Invalid(f"A contact can have at most {MAX_PER_CONTACT} {what}.", field=field)


def _set_emails(contact: Contact, entries: list) -> None:
    cleaned: list[tuple[str, str]] = []
    for i, entry in enumerate(entries):
        entry = {"email": entry} if isinstance(entry, str) else entry
        raw = (entry.get("email") or "").strip()
        if not raw:
            continue
        address = _norm(norm.email, raw, f"emails.{i}")
        if address not in [a for a, _ in cleaned]:
            cleaned.append((address, _label(entry.get("label"), EMAIL_LABELS, "work")))
    _check_count(len(cleaned), len(contact.emails), "emails", "email addresses")
    if cleaned:
        taken = select(
            ContactEmail.email,
            Contact.id,
            Contact.first_name,
            Contact.last_name,
            Contact.deleted_at,
        ).join(Contact, Contact.id == ContactEmail.contact_id)
        taken = taken.where(
            ContactEmail.team_id == contact.team_id,
            ContactEmail.email.in_([a for a, _ in cleaned]),
        )
        if contact.id:
            taken = taken.where(ContactEmail.contact_id != contact.id)
        clash = db.session.execute(taken).first()
        if clash:
            name = f"{clash.first_name} {clash.last_name}".strip() or clash.email
            index = [a for a, _ in cleaned].index(clash.email)
            where = " (in the trash: restore them instead)" if clash.deleted_at else ""
            error = Invalid(
                f"{clash.email} already belongs to {name}{where}.", field=f"emails.{index}"
            )
            error.existing_contact_id = clash.id
            error.existing_in_trash = clash.deleted_at is not None
            raise error
    existing = {e.email: e for e in contact.emails}
    emails = []
    for position, (address, label) in enumerate(cleaned):
        row = existing.get(address) or ContactEmail(team_id=contact.team_id, email=address)
        row.label, row.position = label, position
        emails.append(row)
    contact.emails = emails


def _set_phones(contact: Contact, entries: list) -> None:
    cleaned: list[tuple[str, str]] = []
    for i, entry in enumerate(entries):
        entry = {"phone": entry} if isinstance(entry, str) else entry
        raw = (entry.get("phone") or "").strip()
        if not raw:
            continue
        try:
            e164 = norm.phone(raw, phone_region())
        except norm.BadValue as error:
            raise Invalid(str(error), field=f"phones.{i}") from None
        if e164 not in [p for p, _ in cleaned]:
            cleaned.append((e164, _label(entry.get("label"), PHONE_LABELS, "mobile")))
    _check_count(len(cleaned), len(contact.phones), "phones", "phone numbers")
    existing = {p.e164: p for p in contact.phones}
    phones = []
    for position, (e164, label) in enumerate(cleaned):
        row = existing.pop(e164, None) or ContactPhone(team_id=contact.team_id, e164=e164)
        row.label, row.position = label, position
        phones.append(row)
    contact.phones = phones


def count_in_trash(team_id: int) -> int:
    return db.session.scalar(
        select(func.count(Contact.id)).where(
            Contact.team_id == team_id, Contact.deleted_at.is_not(None)
        )
    )
