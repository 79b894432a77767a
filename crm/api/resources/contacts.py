"""/api/v1/contacts: the same filters as the contact list, the same services as the pages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import literal, select, union_all

from crm.api.core import actor_id, team_id
from crm.api.filters import DESCRIPTION as CUSTOM_FILTERS
from crm.api.filters import CustomFilterQuery, custom_filters
from crm.api.resource import Listing, Resource, Write, register
from crm.api.schemas import CustomFieldsIn, CustomFieldsOut, Strict
from crm.contacts import services
from crm.contacts.queries import ContactFilters, contacts_query
from crm.extensions import db
from crm.kernel import companies as kernel_companies
from crm.kernel.paging import SortKey
from crm.models import Contact, ContactEmail, ContactPhone, Lifecycle, Tag, contact_tag


class EmailIn(Strict):
    email: str
    label: str = "work"


class PhoneIn(Strict):
    phone: str = Field(description="Any common format; stored as E.164.")
    label: str = "mobile"


class ContactIn(Strict):
    """Fields of a contact. On PATCH, only the fields sent change; null clears a field."""

    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    title: str | None = None
    company_id: int | None = None
    company_name: str | None = Field(
        None, description="Link the company with this name, created if the team has none."
    )
    emails: list[EmailIn] | None = Field(None, description="The first is the primary.")
    phones: list[PhoneIn] | None = None
    website: str | None = None
    social: dict[str, str] | None = Field(None, description='e.g. {"linkedin": "https://…"}')
    tags: list[str] | None = Field(None, description="Tag names; unknown ones are created.")
    owner_id: int | None = Field(None, description="A member's user id (default: you).")
    lifecycle: Lifecycle | None = None
    source: str | None = None
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    notes: str | None = None
    custom_fields: CustomFieldsIn = None


class EmailOut(BaseModel):
    email: str
    label: str


class PhoneOut(BaseModel):
    phone: str = Field(description="E.164")
    label: str


class ContactOut(BaseModel):
    id: int
    name: str
    first_name: str
    last_name: str
    title: str | None
    company_id: int | None
    emails: list[EmailOut]
    phones: list[PhoneOut]
    website: str | None
    social: dict[str, str]
    tags: list[str]
    owner_id: int | None
    lifecycle: Lifecycle
    source: str | None
    street: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    notes: str | None
    last_activity_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = Field(description="Set when the contact is in the trash.")
    custom_fields: CustomFieldsOut


SORTS = {
    "name": SortKey(Contact.sort_name),
    "created": SortKey(Contact.created_at, datetime),
    "updated": SortKey(Contact.updated_at, datetime),
    "id": SortKey(Contact.id, int),
}
SortName = Literal["name", "-name", "created", "-created", "updated", "-updated", "id", "-id"]


class ContactQuery(CustomFilterQuery):
    q: str | None = Field(None, max_length=100, description="Name, email or phone prefix.")
    owner: int | None = Field(None, description="Owner's user id; 0 = nobody.")
    tag: int | None = Field(None, description="A tag id.")
    stage: Lifecycle | None = None
    company: int | None = Field(None, description="A company id.")
    idle: int | None = Field(None, ge=1, description="No activity for this many days.")
    sort: SortName = "name"
    include_deleted: bool = Field(False, description="Also list contacts in the trash (sync).")


def out(contact, parts: dict | None = None) -> dict:
    """The API's view of a contact (a Contact, or a row of its columns with `parts`);
    `parts` holds emails, phones and tags fetched in bulk for a list (see _parts)."""
    if parts is None:  # one query for the three, not one each
        parts = _parts([contact.id])
    emails, phones, tags = (parts[k].get(contact.id, []) for k in ("emails", "phones", "tags"))
    name = f"{contact.first_name} {contact.last_name}".strip()
    return {
        "id": contact.id,
        "name": name or (emails[0][0] if emails else "(no name)"),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "title": contact.title,
        "company_id": contact.company_id,
        "emails": [{"email": e, "label": label} for e, label in emails],
        "phones": [{"phone": p, "label": label} for p, label in phones],
        "website": contact.website,
        "social": contact.social or {},
        "tags": tags,
        "owner_id": contact.owner_id,
        "lifecycle": contact.lifecycle.value,
        "source": contact.source,
        "street": contact.street,
        "city": contact.city,
        "region": contact.region,
        "postal_code": contact.postal_code,
        "country": contact.country,
        "notes": contact.notes,
        "last_activity_at": contact.last_activity_at,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "deleted_at": contact.deleted_at,
    }


def _parts(ids: list[int]) -> dict:
    """Emails, phones and tag names of many contacts in one plain query, no ORM objects
    (building hundreds of child objects was most of a page's cost)."""
    parts: dict = {"emails": {}, "phones": {}, "tags": {}}
    if not ids:
        return parts
    stmt = union_all(
        select(
            ContactEmail.contact_id,
            literal("emails").label("part"),
            ContactEmail.email.label("value"),
            ContactEmail.label,
            ContactEmail.position,
        ).where(ContactEmail.contact_id.in_(ids)),
        select(
            ContactPhone.contact_id,
            literal("phones"),
            ContactPhone.e164,
            ContactPhone.label,
            ContactPhone.position,
        ).where(ContactPhone.contact_id.in_(ids)),
        select(contact_tag.c.contact_id, literal("tags"), Tag.name, literal(""), literal(0))
        .join(Tag, Tag.id == contact_tag.c.tag_id)
        .where(contact_tag.c.contact_id.in_(ids)),
    ).order_by("contact_id", "part", "position", "value")
    for contact_id, part, value, label, _ in db.session.connection().execute(stmt):
        entry = value if part == "tags" else (value, label)
        parts[part].setdefault(contact_id, []).append(entry)
    return parts


def _data(body: ContactIn) -> dict:
    """The service's data dict: only the fields sent; a company name is found or created."""
    data = body.model_dump(exclude_unset=True, exclude={"custom_fields"}, mode="json")
    if "company_name" in data:
        name = data.pop("company_name")
        company = kernel_companies.find_or_create(team_id(), actor_id(), name or "")
        data["company_id"] = company.id if company else None
    return data


def _select(query: ContactQuery):
    filters = ContactFilters(
        q=query.q or "",
        owner=query.owner,
        tag=query.tag,
        stage=query.stage.value if query.stage else None,
        company=query.company,
        idle=query.idle,
        custom=custom_filters(query, "contact"),
    )
    stmt = contacts_query(team_id(), filters, with_deleted=query.include_deleted)
    # Plain rows, not Contact objects: a page is read, never changed, and building 100 ORM
    # objects was a fifth of its cost.
    return stmt.with_only_columns(*Contact.__table__.columns)


def _rows(rows) -> list[dict]:
    parts = _parts([c.id for c in rows])
    return [out(c, parts) for c in rows]


register(
    Resource(
        "/contacts",
        "contact_id",
        Contact,
        name="contact",
        plural="contacts",
        tag="contacts",
        custom="contact",
        out=out,
        response=ContactOut,
        get="Get a contact",
        listing=Listing(
            ContactQuery,
            _select,
            SORTS,
            summary="List contacts",
            description="The same filters as the contact list on the page; keyset pages "
            f"(`cursor`). {CUSTOM_FILTERS}",
            plain=True,
            rows=_rows,
        ),
        create=Write(
            lambda body: services.create_contact(team_id(), actor_id(), _data(body), commit=False),
            summary="Create a contact",
            description="Needs a name or an email address. Send `Idempotency-Key` to retry safely.",
            body=ContactIn,
        ),
        update=Write(
            lambda contact, body: services.update_contact(contact, actor_id(), _data(body)),
            summary="Update a contact",
            description="Changes only the fields sent, audited like an edit on the page. "
            "`If-Match`: 412 if stale.",
            body=ContactIn,
        ),
        delete=Write(
            lambda contact: services.delete_contact(contact, actor_id()),
            summary="Move a contact to the trash",
            description="Restorable from the trash on the web for 30 days, like a delete on "
            "the page.",
        ),
        restore=Write(
            lambda contact: services.restore_contact(contact, actor_id()),
            summary="Restore a contact from the trash",
            description="Brings it back as the Restore button on the web does (audited, on its "
            "timeline, `contact.restored` sent to webhooks). Restoring a contact that is not in "
            "the trash changes nothing.",
        ),
    )
)
