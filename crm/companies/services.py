"""Writing companies: create, update (audited), trash and restore."""

from __future__ import annotations

from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import audit, events, members, tags
from crm.kernel import normalize as norm
from crm.kernel.fields import COMPANY_LIMITS, clean_text, phone_region
from crm.models import Company

LABELS = {
    "name": "Name",
    "domain": "Domain",
    "industry": "Industry",
    "size": "Size",
    "phone": "Phone",
    "website": "Website",
    "tags": "Tags",
    "owner_id": "Owner",
    "street": "Street",
    "city": "City",
    "region": "Region",
    "postal_code": "Postal code",
    "country": "Country",
}
TEXT_FIELDS = {
    key: COMPANY_LIMITS[key]
    for key in ("industry", "size", "street", "city", "region", "postal_code", "country")
}
SIZES = ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+")


def _audit(company: Company, actor_id: int | None, action: str, changes=None) -> None:
    audit.write(
        team_id=company.team_id,
        actor_id=actor_id,
        entity_type="company",
        entity_id=company.id,
        action=action,
        changes=changes,
        timeline=True,
        company_id=company.id,
    )
    events.audited(
        "company",
        action,
        team_id=company.team_id,
        record_id=company.id,
        actor_id=actor_id,
        changes=changes,
    )


def create_company(
    team_id: int, actor_id: int | None, data: dict, *, commit: bool = True
) -> Company:
    """A new company; with commit=False it is only flushed (the caller's commit saves it)."""
    company = Company(team_id=team_id, name="", sort_name="")
    if actor_id and "owner_id" not in data:
        data = {**data, "owner_id": actor_id}
    with db.session.no_autoflush:
        _apply(company, data)
    db.session.add(company)
    db.session.flush()
    _audit(company, actor_id, "create")
    if commit:
        db.session.commit()
    return company


def update_company(company: Company, actor_id: int | None, data: dict) -> Company:
    with db.session.no_autoflush:
        changes = _apply(company, data)
    if changes:
        _audit(company, actor_id, "update", changes)
    db.session.commit()
    return company


def delete_company(company: Company, actor_id: int | None) -> Company:
    """Move to the trash; its people stay, still linked, and come back with it on restore."""
    if company.trash(actor_id):
        _audit(company, actor_id, "delete")
    db.session.commit()
    return company


def restore_company(company: Company, actor_id: int | None) -> Company:
    if company.untrash():
        _audit(company, actor_id, "restore")
    db.session.commit()
    return company


def _apply(company: Company, data: dict) -> dict:
    before, after = {}, {}

    def change(key, old, new):
        if old != new:
            before[key], after[key] = old, new

    if "name" in data:
        name = clean_text(data["name"], COMPANY_LIMITS["name"], "name")
        if not name:
            raise Invalid("Give the company a name.", field="name")
        change("name", audit.show(company.name), name)
        company.name, company.sort_name = name, name.lower()
    for key, max_len in TEXT_FIELDS.items():
        if key in data:
            value = clean_text(data[key], max_len, key)
            change(key, audit.show(getattr(company, key)), audit.show(value))
            setattr(company, key, value)
    for key, func in (("domain", norm.domain), ("website", norm.website)):
        if key in data:
            try:
                value = func(data[key])
            except norm.BadValue as error:
                raise Invalid(str(error), field=key) from None
            change(key, audit.show(getattr(company, key)), audit.show(value))
            setattr(company, key, value)
    if "website" in data and company.website and not company.domain:
        try:
            company.domain = norm.domain(company.website)
        except norm.BadValue:
            pass
    if "phone" in data:
        raw = (data["phone"] or "").strip()
        try:
            value = norm.phone(raw, phone_region()) if raw else None
        except norm.BadValue as error:
            raise Invalid(str(error), field="phone") from None
        show = lambda v: norm.format_phone(v) if v else audit.EMPTY  # noqa: E731
        change("phone", show(company.phone), show(value))
        company.phone = value
    if "owner_id" in data:
        owner = members.check_member(company.team_id, data["owner_id"], field="owner_id")
        change(
            "owner_id",
            audit.show(members.user_name(company.owner_id)),
            audit.show(owner.name if owner else None),
        )
        company.owner_id = owner.id if owner else None
    if "tags" in data:
        new_tags = tags.find_or_create(company.team_id, data["tags"])
        change(
            "tags",
            audit.show([t.name for t in company.tags]),
            audit.show([t.name for t in new_tags]),
        )
        company.tags = new_tags
    if not company.name:
        raise Invalid("Give the company a name.", field="name")
    return {LABELS[k]: [before[k], after[k]] for k in before}
