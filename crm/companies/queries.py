"""Reading company lists: the filters of the /companies page, shared with the API."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, or_, select

from crm.models import Company, company_tag


@dataclass
class CompanyFilters:
    q: str = ""
    tag: int | None = None
    owner: int | None = None

    def args(self, **extra) -> dict:
        values = {"q": self.q, "tag": self.tag, "owner": self.owner, **extra}
        return {k: v for k, v in values.items() if v not in (None, "")}


def companies_query(team_id: int, filters: CompanyFilters, *, with_deleted: bool = False) -> Select:
    """The team's companies matching `filters` (unsorted); name or domain prefix, tag, owner."""
    stmt = select(Company).where(Company.team_id == team_id)
    if not with_deleted:
        stmt = stmt.where(Company.deleted_at.is_(None))
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
    return stmt
