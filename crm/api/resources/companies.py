"""/api/v1/companies: the company list's filters, the company services."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import url_for
from pydantic import BaseModel, Field
from sqlalchemy.orm import selectinload

from crm.api.core import (
    actor_id,
    check_if_match,
    item_response,
    keyset_page,
    list_response,
    no_content,
    operation,
    team_id,
)
from crm.api.schemas import ListQuery, Strict, page_of
from crm.companies import services
from crm.companies.queries import CompanyFilters, companies_query
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel.paging import SortKey
from crm.models import Company
from crm.security import get_or_404


class CompanyIn(Strict):
    """Fields of a company. On PATCH, only the fields sent change; null clears a field."""

    name: str | None = Field(None, max_length=200, description="Required on create.")
    domain: str | None = None
    industry: str | None = None
    size: str | None = Field(None, description="1-10, 11-50, 51-200, 201-1000, 1001-5000, 5000+")
    phone: str | None = None
    website: str | None = None
    tags: list[str] | None = None
    owner_id: int | None = None
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class CompanyOut(BaseModel):
    id: int
    name: str
    domain: str | None
    industry: str | None
    size: str | None
    phone: str | None
    website: str | None
    tags: list[str]
    owner_id: int | None
    street: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    last_activity_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


SORTS = {
    "name": SortKey(Company.sort_name),
    "created": SortKey(Company.created_at, datetime),
    "updated": SortKey(Company.updated_at, datetime),
    "id": SortKey(Company.id, int),
}


class CompanyQuery(ListQuery):
    q: str | None = Field(None, max_length=100, description="Name or domain prefix.")
    tag: int | None = None
    owner: int | None = None
    sort: Literal["name", "-name", "created", "-created", "updated", "-updated", "id", "-id"] = (
        "name"
    )
    include_deleted: bool = False


def out(company: Company) -> dict:
    return {
        "id": company.id,
        "name": company.name,
        "domain": company.domain,
        "industry": company.industry,
        "size": company.size,
        "phone": company.phone,
        "website": company.website,
        "tags": [t.name for t in company.tags],
        "owner_id": company.owner_id,
        "street": company.street,
        "city": company.city,
        "region": company.region,
        "postal_code": company.postal_code,
        "country": company.country,
        "last_activity_at": company.last_activity_at,
        "created_at": company.created_at,
        "updated_at": company.updated_at,
        "deleted_at": company.deleted_at,
    }


@operation(
    "/companies",
    summary="List companies",
    tag="companies",
    query=CompanyQuery,
    response=page_of(CompanyOut),
)
def list_companies(query: CompanyQuery):
    filters = CompanyFilters(q=query.q or "", tag=query.tag, owner=query.owner)
    stmt = companies_query(filters, with_deleted=query.include_deleted)
    if query.updated_since:
        stmt = stmt.where(Company.updated_at >= query.updated_since)
    stmt = stmt.options(selectinload(Company.tags))
    rows, next_cursor = keyset_page(stmt, Company, SORTS, query.sort, query.cursor, query.limit)
    return list_response([out(c) for c in rows], next_cursor)


@operation(
    "/companies",
    "POST",
    summary="Create a company",
    tag="companies",
    body=CompanyIn,
    response=CompanyOut,
    status=201,
)
def create_company(body: CompanyIn):
    """Needs a name. Send `Idempotency-Key` to retry safely."""
    if not (body.name or "").strip():
        raise Invalid("Give the company a name.", field="name")
    company = services.create_company(team_id(), actor_id(), body.model_dump(exclude_unset=True))
    return item_response(out(company), 201, url_for("api.get_company", company_id=company.id))


@operation(
    "/companies/<id:company_id>", summary="Get a company", tag="companies", response=CompanyOut
)
def get_company(company_id: int):
    return item_response(out(get_or_404(Company, company_id)))


@operation(
    "/companies/<id:company_id>",
    "PATCH",
    summary="Update a company",
    tag="companies",
    body=CompanyIn,
    response=CompanyOut,
)
def update_company(company_id: int, body: CompanyIn):
    company = get_or_404(Company, company_id)
    check_if_match(out(company))
    services.update_company(company, actor_id(), body.model_dump(exclude_unset=True))
    db.session.refresh(company)
    return item_response(out(company))


@operation(
    "/companies/<id:company_id>",
    "DELETE",
    summary="Move a company to the trash",
    tag="companies",
)
def delete_company(company_id: int):
    """Its people stay, still linked; restorable from the trash on the web."""
    company = get_or_404(Company, company_id)
    check_if_match(out(company))
    services.delete_company(company, actor_id())
    return no_content()
