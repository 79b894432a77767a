"""A small adapter that creates and updates contacts from row dicts.

The data keys follow the contacts feature's services (first_name, last_name, title, company_id,
emails [{"email", "label"}], phones [{"phone", "label"}], website, social, tags, owner_id,
lifecycle, source, street, city, region, postal_code, country, notes), plus `company` (a name,
found or created). When that feature lands, create()/update() can call its services instead.
The caller commits.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select

from crm.contacts import normalize
from crm.extensions import db
from crm.models import (
    AuditEvent,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    Lifecycle,
    Tag,
    contact_tag,
)

SCALARS = (
    "first_name",
    "last_name",
    "title",
    "company_id",
    "website",
    "owner_id",
    "lifecycle",
    "source",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "notes",
)
LIFECYCLES = {m.value: m for m in Lifecycle} | {m.label.lower(): m for m in Lifecycle}
LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "title": 150,
    "source": 100,
    "street": 200,
    "city": 100,
    "region": 100,
    "postal_code": 20,
    "country": 100,
}


def clean(data: dict, region: str = "US") -> dict:
    """Normalized data, or BadValue naming the first problem."""
    out: dict = {}
    for key, value in data.items():
        if isinstance(value, str):
            value = value.strip()
        if value in ("", None, []):
            continue
        out[key] = value
    for key, limit in LIMITS.items():
        if key in out and len(out[key]) > limit:
            raise normalize.BadValue(f"{key.replace('_', ' ')} is longer than {limit} characters.")
    out["emails"] = [
        {"email": normalize.email(e["email"]), "label": e.get("label") or "work"}
        for e in out.get("emails", [])
        if (e.get("email") or "").strip()
    ]
    out["phones"] = [
        {"phone": normalize.phone(p["phone"], region), "label": p.get("label") or "mobile"}
        for p in out.get("phones", [])
        if (p.get("phone") or "").strip()
    ]
    if "website" in out:
        out["website"] = normalize.website(out["website"])
    if "lifecycle" in out and not isinstance(out["lifecycle"], Lifecycle):
        stage = LIFECYCLES.get(str(out["lifecycle"]).strip().lower())
        if stage is None:
            raise normalize.BadValue(f"{out['lifecycle']!r} is not a lifecycle stage.")
        out["lifecycle"] = stage
    out["tags"] = sorted({t.strip().lower()[:60] for t in out.get("tags", []) if t.strip()})
    if not (out.get("first_name") or out.get("last_name") or out["emails"]):
        raise normalize.BadValue("A contact needs a name or an email address.")
    return out


def company_id_for(team_id: int, name: str | None, *, create: bool = True) -> int | None:
    name = (name or "").strip()[:200]
    if not name:
        return None
    found = db.session.scalar(
        select(Company.id).where(
            Company.team_id == team_id,
            Company.sort_name == name.lower(),
            Company.deleted_at.is_(None),
        )
    )
    if found or not create:
        return found
    company = Company(team_id=team_id, name=name, sort_name=name.lower())
    db.session.add(company)
    db.session.flush()
    return company.id


def _tag_ids(team_id: int, names: list[str]) -> list[int]:
    if not names:
        return []
    existing = dict(
        db.session.execute(
            select(Tag.name, Tag.id).where(Tag.team_id == team_id, Tag.name.in_(names))
        ).all()
    )
    for name in names:
        if name not in existing:
            tag = Tag(team_id=team_id, name=name)
            db.session.add(tag)
            db.session.flush()
            existing[name] = tag.id
    return [existing[n] for n in names]


def _add_tags(contact: Contact, team_id: int, names: list[str]) -> None:
    have = set(
        db.session.scalars(
            select(contact_tag.c.tag_id).where(contact_tag.c.contact_id == contact.id)
        )
    )
    new = [t for t in _tag_ids(team_id, names) if t not in have]
    if new:
        db.session.execute(
            insert(contact_tag), [{"contact_id": contact.id, "tag_id": t} for t in new]
        )


def _resolve_company(team_id: int, data: dict) -> None:
    if "company" in data and "company_id" not in data:
        data["company_id"] = company_id_for(team_id, data.pop("company"))


def create(team_id: int, actor_id: int | None, data: dict, *, source: str = "import") -> Contact:
    _resolve_company(team_id, data)
    contact = Contact(team_id=team_id, social=data.get("social") or {})
    for key in SCALARS:
        if key in data:
            setattr(contact, key, data[key])
    contact.first_name = contact.first_name or ""
    contact.last_name = contact.last_name or ""
    contact.sort_name = normalize.sort_name(contact.first_name, contact.last_name) or (
        data["emails"][0]["email"] if data.get("emails") else ""
    )
    contact.emails = [
        ContactEmail(team_id=team_id, email=e["email"], label=e["label"], position=i)
        for i, e in enumerate(data.get("emails", []))
    ]
    contact.phones = [
        ContactPhone(team_id=team_id, e164=p["phone"], label=p["label"], position=i)
        for i, p in enumerate(data.get("phones", []))
    ]
    db.session.add(contact)
    db.session.flush()
    _add_tags(contact, team_id, data.get("tags", []))
    db.session.add(
        AuditEvent(
            team_id=team_id,
            actor_id=actor_id,
            entity_type="contact",
            entity_id=contact.id,
            action="create",
            changes={"via": [None, source]},
        )
    )
    return contact


def _plain(value):
    return value.value if isinstance(value, Lifecycle) else value


def snapshot(contact: Contact) -> dict:
    """Everything update() may change, as JSON, for restore()."""
    return {
        "fields": {k: _plain(getattr(contact, k)) for k in SCALARS},
        "social": dict(contact.social or {}),
        "emails": [e.id for e in contact.emails],
        "phones": [p.id for p in contact.phones],
        "tags": list(
            db.session.scalars(
                select(contact_tag.c.tag_id).where(contact_tag.c.contact_id == contact.id)
            )
        ),
    }


def update(contact: Contact, actor_id: int | None, data: dict, *, source: str = "import") -> dict:
    """Fill in what the row has (non-empty values win), add new emails, phones and tags.

    Returns {field: [old, new]} of what changed.
    """
    team_id = contact.team_id
    _resolve_company(team_id, data)
    changes: dict = {}
    for key in SCALARS:
        if key in data and getattr(contact, key) != data[key]:
            old = getattr(contact, key)
            changes[key] = [old.value if isinstance(old, Lifecycle) else old, str(data[key])]
            setattr(contact, key, data[key])
    if data.get("social"):
        contact.social = {**(contact.social or {}), **data["social"]}
    contact.sort_name = (
        normalize.sort_name(contact.first_name, contact.last_name) or contact.sort_name
    )
    have_emails = {e.email for e in contact.emails}
    for e in data.get("emails", []):
        if e["email"] not in have_emails:
            contact.emails.append(
                ContactEmail(
                    team_id=team_id,
                    email=e["email"],
                    label=e["label"],
                    position=len(contact.emails),
                )
            )
            changes.setdefault("emails", [None, []])[1].append(e["email"])
    have_phones = {p.e164 for p in contact.phones}
    for p in data.get("phones", []):
        if p["phone"] not in have_phones:
            contact.phones.append(
                ContactPhone(
                    team_id=team_id, e164=p["phone"], label=p["label"], position=len(contact.phones)
                )
            )
            changes.setdefault("phones", [None, []])[1].append(p["phone"])
    db.session.flush()
    _add_tags(contact, team_id, data.get("tags", []))
    if changes:
        db.session.add(
            AuditEvent(
                team_id=team_id,
                actor_id=actor_id,
                entity_type="contact",
                entity_id=contact.id,
                action="update",
                changes=changes | {"via": [None, source]},
            )
        )
    return changes


def restore(contact: Contact, before: dict, actor_id: int | None = None) -> None:
    """Put a contact back to a snapshot(): its fields and only the emails/phones/tags it had."""
    for key, value in before["fields"].items():
        setattr(contact, key, Lifecycle(value) if key == "lifecycle" and value else value)
    contact.social = before.get("social") or {}
    contact.sort_name = (
        normalize.sort_name(contact.first_name, contact.last_name) or contact.sort_name
    )
    keep_emails, keep_phones = set(before["emails"]), set(before["phones"])
    contact.emails = [e for e in contact.emails if e.id in keep_emails]
    contact.phones = [p for p in contact.phones if p.id in keep_phones]
    db.session.execute(
        delete(contact_tag).where(
            contact_tag.c.contact_id == contact.id, contact_tag.c.tag_id.not_in(before["tags"])
        )
    )
    db.session.add(
        AuditEvent(
            team_id=contact.team_id,
            actor_id=actor_id,
            entity_type="contact",
            entity_id=contact.id,
            action="revert",
            changes={},
        )
    )


def count_contacts(team_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Contact).where(Contact.team_id == team_id)
    )
