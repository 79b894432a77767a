"""/api/v1/companies: the company list's filters, the company services."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import selectinload

from crm.api.core import actor_id, team_id
from crm.api.filters import DESCRIPTION as CUSTOM_FILTERS
from crm.api.filters import CustomFilterQuery, custom_filters
from crm.api.resource import Listing, Resource, Write, register
from crm.api.schemas import CustomFieldsIn, CustomFieldsOut, Strict
from crm.companies import services
from crm.companies.queries import CompanyFilters, companies_query
from crm.errors import Invalid
from crm.kernel.paging import SortKey
from crm.models import Company


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
    custom_fields: CustomFieldsIn = None


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
    custom_fields: CustomFieldsOut


SORTS = {
    "name": SortKey(Company.sort_name),
    "created": SortKey(Company.created_at, datetime),
    "updated": SortKey(Company.updated_at, datetime),
    "id": SortKey(Company.id, int),
}


class CompanyQuery(CustomFilterQuery):
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


def _fields(body: CompanyIn) -> dict:
    return body.model_dump(exclude_unset=True, exclude={"custom_fields"})


def _select(query: CompanyQuery):
    filters = CompanyFilters(
        q=query.q or "",
        tag=query.tag,
        owner=query.owner,
        custom=custom_filters(query, "company"),
    )
    stmt = companies_query(filters, with_deleted=query.include_deleted)
    return stmt.options(selectinload(Company.tags))


def _create(body: CompanyIn) -> Company:
    if not (body.name or "").strip():
        raise Invalid("Give the company a name.", field="name")
    return services.create_company(team_id(), actor_id(), _fields(body), commit=False)


register(
    Resource(
        "/companies",
        "company_id",
        Company,
        name="company",
        plural="companies",
        tag="companies",
        custom="company",
        out=out,
        response=CompanyOut,
        get="Get a company",
        listing=Listing(
            CompanyQuery,
            _select,
            SORTS,
            summary="List companies",
            description="The company list's filters (name or domain, tag, owner). "
            f"{CUSTOM_FILTERS}",
        ),
        create=Write(
            _create,
            summary="Create a company",
            description="Needs a name. Send `Idempotency-Key` to retry safely.",
            body=CompanyIn,
        ),
        update=Write(
            lambda company, body: services.update_company(company, actor_id(), _fields(body)),
            summary="Update a company",
            body=CompanyIn,
        ),
        delete=Write(
            lambda company: services.delete_company(company, actor_id()),
            summary="Move a company to the trash",
            description="Its people stay, still linked; restorable from the trash on the web.",
        ),
        restore=Write(
            lambda company: services.restore_company(company, actor_id()),
            summary="Restore a company from the trash",
            description="As the Restore button on the web does (audited, `company.restored` "
            "sent to webhooks); its people were never unlinked. Restoring a company that is "
            "not in the trash changes nothing.",
        ),
    )
)
