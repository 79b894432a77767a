"""Company find-or-create: a name (or a mail domain) typed anywhere lands on one company.

Promise: find_or_create() returns the team's live company with that name (case-insensitive,
inner whitespace collapsed, cut at 200 characters) or, with match="domain", with that domain;
when there is none it creates one — always with an audit entry ("create") on the company's
timeline, whoever asked: the contact form, the CSV import or email-in. create=False only looks.
The new company is flushed, not committed (the caller's commit saves it with its own work).
"""

from __future__ import annotations

from sqlalchemy import select

from crm.extensions import db
from crm.kernel import audit, events
from crm.models import Company

NAME_MAX = 200


def clean_name(name: str | None) -> str:
    return " ".join((name or "").split())[:NAME_MAX].strip()


def find(team_id: int, *, name: str | None = None, domain: str | None = None) -> Company | None:
    """The team's live company with this name (or domain), if any."""
    stmt = select(Company).where(Company.team_id == team_id, Company.deleted_at.is_(None))
    if domain is not None:
        stmt = stmt.where(Company.domain == domain)
    else:
        stmt = stmt.where(Company.sort_name == clean_name(name).lower())
    return db.session.scalars(stmt.order_by(Company.id)).first()


def find_or_create(
    team_id: int,
    actor_id: int | None,
    name: str | None,
    *,
    domain: str | None = None,
    match: str = "name",
    create: bool = True,
) -> Company | None:
    """The company for `name` (match="name") or `domain` (match="domain"), created if missing.

    None when the name is blank, or when nothing matches and create=False.
    """
    name = clean_name(name)
    if match == "domain":
        if not domain:
            return None
        company = find(team_id, domain=domain)
    else:
        if not name:
            return None
        company = find(team_id, name=name)
    if company is not None or not create or not name:
        return company
    company = Company(
        team_id=team_id,
        name=name,
        sort_name=name.lower(),
        domain=domain,
        owner_id=actor_id,
    )
    db.session.add(company)
    db.session.flush()
    audit.write(
        team_id=team_id,
        actor_id=actor_id,
        entity_type="company",
        entity_id=company.id,
        action="create",
        timeline=True,
        company_id=company.id,
    )
    events.emit(
        "company.created",
        team_id=team_id,
        record_type="company",
        record_id=company.id,
        actor_id=actor_id,
    )
    return company
