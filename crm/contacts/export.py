"""The contact list as a CSV file: the same query as the list on screen, one row per contact."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from crm.contacts.queries import ContactFilters, contacts_query
from crm.extensions import db
from crm.kernel import custom_fields
from crm.models import Company, Contact, ContactEmail, ContactPhone, Tag, User, contact_tag

EXPORT_HEADER = [
    "First name",
    "Last name",
    "Email",
    "Email 2",
    "Phone",
    "Mobile",
    "Title",
    "Company",
    "Website",
    "LinkedIn",
    "Tags",
    "Lifecycle stage",
    "Source",
    "Street",
    "City",
    "Region",
    "Postal code",
    "Country",
    "Owner",
    "Notes",
    "Created",
]


def export_header(team_id: int) -> list[str]:
    """The built-in columns, then one per custom field of contacts (the import maps a column
    named like a field back to it)."""
    return EXPORT_HEADER + [f.label for f in custom_fields.fields_for(team_id, "contact")]


def export_rows(team_id: int, filters: ContactFilters, batch: int = 1000) -> Iterator[list[str]]:
    """The rows of the list on screen (same query: same contacts, same order), as plain column
    tuples, and per batch of contacts one query each for their emails, phones and tags (no ORM
    objects: a 100,000-row export stays fast)."""
    columns = (
        Contact.id,
        Contact.first_name,
        Contact.last_name,
        Contact.title,
        Company.name,
        Contact.website,
        Contact.social,
        Contact.lifecycle,
        Contact.source,
        Contact.street,
        Contact.city,
        Contact.region,
        Contact.postal_code,
        Contact.country,
        User.name,
        Contact.notes,
        Contact.created_at,
    )
    stmt = (
        contacts_query(team_id, filters)
        .with_only_columns(*columns)
        .outerjoin(Company, Company.id == Contact.company_id)
        .outerjoin(User, User.id == Contact.owner_id)
    )
    defined = custom_fields.fields_for(team_id, "contact")
    result = db.session.execute(stmt.execution_options(yield_per=batch))
    for part in result.partitions():
        ids = [row[0] for row in part]
        custom = custom_fields.read(team_id, "contact", ids, defined)
        emails = _grouped(
            select(ContactEmail.contact_id, ContactEmail.email)
            .where(ContactEmail.contact_id.in_(ids))
            .order_by(ContactEmail.contact_id, ContactEmail.position, ContactEmail.id)
        )
        phones = _grouped(
            select(ContactPhone.contact_id, ContactPhone.e164)
            .where(ContactPhone.contact_id.in_(ids))
            .order_by(ContactPhone.contact_id, ContactPhone.position, ContactPhone.id)
        )
        tags = _grouped(
            select(contact_tag.c.contact_id, Tag.name)
            .join(Tag, Tag.id == contact_tag.c.tag_id)
            .where(contact_tag.c.contact_id.in_(ids))
            .order_by(contact_tag.c.contact_id, Tag.name)
        )
        for (
            cid,
            first,
            last,
            title,
            company,
            website,
            social,
            stage,
            source,
            street,
            city,
            region,
            postal,
            country,
            owner,
            notes,
            created,
        ) in part:
            mails, tels = emails.get(cid, []), phones.get(cid, [])
            yield [
                first,
                last,
                mails[0] if mails else "",
                ", ".join(mails[1:]),
                tels[0] if tels else "",
                ", ".join(tels[1:]),
                title,
                company or "",
                website,
                (social or {}).get("linkedin", ""),
                ", ".join(tags.get(cid, [])),
                stage.value if stage else "",
                source,
                street,
                city,
                region,
                postal,
                country,
                owner or "",
                notes,
                created.strftime("%Y-%m-%d %H:%M") if created else "",
                *(custom_fields.export_cell(f, custom.get(cid, {}).get(f.id)) for f in defined),
            ]


def _grouped(stmt) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for key, value in db.session.execute(stmt):
        out.setdefault(key, []).append(value)
    return out
