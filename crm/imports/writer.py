"""The import's adapter to the contacts services: rows become create/update calls.

The data keys follow `crm.contacts.services` (first_name, last_name, title, company_id,
emails [{"email", "label"}], phones [{"phone", "label"}], website, social, tags, owner_id,
lifecycle, source, street, city, region, postal_code, country, notes), plus `company` (a name,
found or created). create() and update() go through the same services as the forms, so an
imported contact gets the same normalization, duplicate-email rule and audit trail; they do not
commit (the import writes each row in a savepoint and commits in batches).
"""

from __future__ import annotations

from sqlalchemy import delete, func, select

from crm.contacts import services as contacts
from crm.extensions import db
from crm.kernel import audit, companies, normalize, tags
from crm.kernel import restore as restore_rule
from crm.kernel.fields import CONTACT_LIMITS
from crm.models import (
    Contact,
    Lifecycle,
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
# Other products' stages (HubSpot's lifecycle, Zoho's and Salesforce's lead statuses).
LIFECYCLES |= {
    "subscriber": Lifecycle.LEAD,
    "marketing qualified lead": Lifecycle.LEAD,
    "marketingqualifiedlead": Lifecycle.LEAD,
    "mql": Lifecycle.LEAD,
    "new": Lifecycle.LEAD,
    "sales qualified lead": Lifecycle.PROSPECT,
    "salesqualifiedlead": Lifecycle.PROSPECT,
    "sql": Lifecycle.PROSPECT,
    "opportunity": Lifecycle.PROSPECT,
    "qualified": Lifecycle.PROSPECT,
    "evangelist": Lifecycle.CUSTOMER,
    "client": Lifecycle.CUSTOMER,
    "former customer": Lifecycle.FORMER,
}
# Checked while reading a row, so the preview names the problem (crm/kernel/fields.py).
LIMITS = {
    key: CONTACT_LIMITS[key]
    for key in ("first_name", "last_name", "title", "source", "street", "city", "region")
    + ("postal_code", "country")
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
    out["tags"] = sorted(tags.names(out.get("tags", [])))
    if not (out.get("first_name") or out.get("last_name") or out["emails"]):
        raise normalize.BadValue("A contact needs a name or an email address.")
    return out


def company_id_for(
    team_id: int, name: str | None, *, create: bool = True, actor_id: int | None = None
) -> int | None:
    """The id of the row's company (see crm.kernel.companies: created ones are audited)."""
    company = companies.find_or_create(team_id, actor_id, name, create=create)
    return company.id if company else None


def _resolve_company(team_id: int, data: dict, actor_id: int | None) -> None:
    if "company" in data and "company_id" not in data:
        data["company_id"] = company_id_for(team_id, data.pop("company"), actor_id=actor_id)


def _service_data(data: dict) -> dict:
    """The keys the contacts services take, from a cleaned row."""
    out = {k: data[k] for k in SCALARS if k in data}
    for key in ("emails", "phones", "tags", "social"):
        if data.get(key):
            out[key] = data[key]
    return out


def create(team_id: int, actor_id: int | None, data: dict) -> Contact:
    """A new contact through `contacts.create_contact` (owner: the importer unless mapped)."""
    _resolve_company(team_id, data, actor_id)
    return contacts.create_contact(team_id, actor_id, _service_data(data), commit=False)


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


def update(contact: Contact, actor_id: int | None, data: dict) -> dict:
    """Fill in what the row has (non-empty values win), add new emails, phones and tags.

    Through `contacts.update_contact`: only what changed is audited, old → new. Returns the
    change as restore() takes it: the snapshot() from before, plus what the row wrote.
    """
    before = snapshot(contact)
    _update(contact, actor_id, data)
    db.session.flush()
    after = snapshot(contact)
    return before | {
        "written": restore_rule.written(before["fields"], after["fields"]),
        "social_written": restore_rule.written(before["social"], after["social"]),
        "emails_added": restore_rule.added(before["emails"], after["emails"]),
        "phones_added": restore_rule.added(before["phones"], after["phones"]),
        "tags_added": restore_rule.added(before["tags"], after["tags"]),
    }


def _update(contact: Contact, actor_id: int | None, data: dict) -> None:
    _resolve_company(contact.team_id, data, actor_id)
    wanted = _service_data(data)
    if data.get("social"):
        wanted["social"] = {**(contact.social or {}), **data["social"]}
    have_emails = {e.email for e in contact.emails}
    new_emails = [e for e in data.get("emails", []) if e["email"] not in have_emails]
    if new_emails:
        wanted["emails"] = [{"email": e.email, "label": e.label} for e in contact.emails]
        wanted["emails"] += new_emails
    else:
        wanted.pop("emails", None)
    have_phones = {p.e164 for p in contact.phones}
    new_phones = [p for p in data.get("phones", []) if p["phone"] not in have_phones]
    if new_phones:
        wanted["phones"] = [{"phone": p.e164, "label": p.label} for p in contact.phones]
        wanted["phones"] += new_phones
    else:
        wanted.pop("phones", None)
    have_tags = [t.name for t in contact.tags]
    new_tags = [t for t in data.get("tags", []) if t not in have_tags]
    if new_tags:
        wanted["tags"] = have_tags + new_tags
    else:
        wanted.pop("tags", None)
    contacts.update_contact(contact, actor_id, wanted, commit=False)


def restore(contact: Contact, before: dict, actor_id: int | None = None) -> list[str]:
    """Undo what an update() wrote, by the kernel's rule: a field (or social profile) goes
    back only if it still holds what the import wrote, and only the emails, phones and tags the
    import added are removed. Returns the labels of the fields edited since, kept as they are.

    A change recorded before imports kept what they wrote is put back whole, as it was then.
    """
    current = {k: _plain(getattr(contact, k)) for k in SCALARS}
    social = dict(contact.social or {})
    if "written" in before:
        fields = restore_rule.undo(before["fields"], before["written"], current)
        profiles = restore_rule.undo(before["social"], before["social_written"], social)
        drop_emails, drop_phones = set(before["emails_added"]), set(before["phones_added"])
        drop_tags = before["tags_added"]
    else:
        fields = restore_rule.Undo(values=dict(before["fields"]))
        profiles = restore_rule.Undo(values={k: None for k in social} | before.get("social", {}))
        drop_emails = {e.id for e in contact.emails} - set(before["emails"])
        drop_phones = {p.id for p in contact.phones} - set(before["phones"])
        drop_tags = None
    for key, value in fields.values.items():
        setattr(contact, key, Lifecycle(value) if key == "lifecycle" and value else value)
    for key, value in profiles.values.items():
        if value is None:
            social.pop(key, None)
        else:
            social[key] = value
    contact.social = social
    contact.sort_name = (
        normalize.sort_name(contact.first_name, contact.last_name) or contact.sort_name
    )
    contact.emails = [e for e in contact.emails if e.id not in drop_emails]
    contact.phones = [p for p in contact.phones if p.id not in drop_phones]
    tag_links = delete(contact_tag).where(contact_tag.c.contact_id == contact.id)
    if drop_tags is None:
        tag_links = tag_links.where(contact_tag.c.tag_id.not_in(before["tags"]))
    else:
        tag_links = tag_links.where(contact_tag.c.tag_id.in_(drop_tags))
    db.session.execute(tag_links)
    kept = [contacts.LABELS.get(k, k) for k in fields.kept]
    kept += [f"{contacts.LABELS['social']} ({k})" for k in profiles.kept]
    audit.write(
        team_id=contact.team_id,
        actor_id=actor_id,
        entity_type="contact",
        entity_id=contact.id,
        action="revert",
        changes={"kept": [None, kept]} if kept else {},
    )
    return kept


def count_contacts(team_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Contact).where(Contact.team_id == team_id)
    )
