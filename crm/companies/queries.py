"""Reading the company list: its filters as one query, keyset pages over (sort_name, id)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.kernel import paging
from crm.kernel.ids import parse_id
from crm.models import Company, company_tag
from crm.security import scoped

PAGE_SIZE = 50


@dataclass
class CompanyFilters:
    q: str = ""
    tag: int | None = None
    owner: int | None = None

    @classmethod
    def from_args(cls, args) -> CompanyFilters:
        def number(name):
            value = args.get(name)
            # 0 stays 0: "no owner" on the owner filter.
            return 0 if str(value).strip() == "0" else parse_id(value)

        return cls(q=(args.get("q") or "").strip()[:100], tag=number("tag"), owner=number("owner"))

    def args(self, **extra) -> dict:
        values = {"q": self.q, "tag": self.tag, "owner": self.owner, **extra}
        return {k: v for k, v in values.items() if v not in (None, "")}


def companies_query(filters: CompanyFilters) -> Select:
    """The company list (the current team's) as one SELECT: its filters, sorted by name.

    Name or domain prefix search, both index ranges. The page shows it in pages, the CSV
    export streams it whole: the same companies in the same order.
    """
    stmt = scoped(Company)
    if filters.q:
        low = filters.q.lower()
        stmt = stmt.where(
            or_(
                and_(Company.sort_name >= low, Company.sort_name < low + "\uffff"),
                and_(Company.domain >= low, Company.domain < low + "\uffff"),
            )
        )
    if filters.tag:
        stmt = stmt.where(
            Company.id.in_(
                select(company_tag.c.company_id).where(company_tag.c.tag_id == filters.tag)
            )
        )
    if filters.owner:
        stmt = stmt.where(Company.owner_id == filters.owner)
    return stmt.order_by(Company.sort_name, Company.id)


def company_page(filters: CompanyFilters, cursor: str | None, limit: int = PAGE_SIZE):
    """One page of the list and the cursor of the next (None on the last page)."""
    stmt = companies_query(filters)
    if position := paging.decode(cursor, str, int):
        stmt = stmt.where(paging.after(Company.sort_name, Company.id, *position))
    rows = db.session.scalars(
        stmt.limit(limit + 1).options(selectinload(Company.tags), selectinload(Company.owner))
    ).all()
    page = paging.take(rows, limit, lambda c: paging.encode(c.sort_name, c.id))
    return page.items, page.next_cursor


EXPORT_HEADER = [
    "Name",
    "Domain",
    "Website",
    "Phone",
    "Industry",
    "Size",
    "Tags",
    "Owner",
    "Street",
    "City",
    "Region",
    "Postal code",
    "Country",
    "Created",
]


def export_rows(filters: CompanyFilters, batch: int = 500) -> Iterator[list]:
    """The rows of the list on screen (same query), a page of companies at a time."""
    cursor = ""
    while cursor is not None:
        companies, cursor = company_page(filters, cursor or None, limit=batch)
        for c in companies:
            yield [
                c.name,
                c.domain,
                c.website,
                c.phone,
                c.industry,
                c.size,
                ", ".join(t.name for t in c.tags),
                c.owner.name if c.owner else "",
                c.street,
                c.city,
                c.region,
                c.postal_code,
                c.country,
                c.created_at.strftime("%Y-%m-%d %H:%M") if c.created_at else "",
            ]
