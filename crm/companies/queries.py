"""Reading the company list: its filters as one query, keyset pages over (sort_name, id) or
over (custom value, id) when sorted by a custom field (crm.kernel.custom_fields.lists)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.kernel import custom_fields, paging
from crm.kernel.ids import parse_id
from crm.models import Company, company_tag
from crm.security import current_team, scoped

PAGE_SIZE = 50


@dataclass
class CompanyFilters:
    q: str = ""
    tag: int | None = None
    owner: int | None = None
    sort: str = "name"  # or cf_<key> / -cf_<key>: by a custom field (checked against the team's)
    # Custom field filters as their URL arguments and the custom columns shown, as the
    # contact list keeps them (crm.kernel.custom_fields reads them with the team's fields).
    custom: tuple[tuple[str, str], ...] = ()
    columns: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args) -> CompanyFilters:
        def number(name):
            value = args.get(name)
            # 0 stays 0: "no owner" on the owner filter.
            return 0 if str(value).strip() == "0" else parse_id(value)

        sort = args.get("sort") or "name"
        return cls(
            q=(args.get("q") or "").strip()[:100],
            tag=number("tag"),
            owner=number("owner"),
            sort=sort if custom_fields.is_sort(sort) else "name",
            custom=custom_fields.custom_args(args),
            columns=custom_fields.column_keys(args),
        )

    def args(self, **extra) -> dict:
        values = {
            "q": self.q,
            "tag": self.tag,
            "owner": self.owner,
            "sort": self.sort if self.sort != "name" else None,
            "cols": ",".join(self.columns) or None,
            **dict(self.custom),
            **extra,
        }
        return {k: v for k, v in values.items() if v not in (None, "")}

    @property
    def active(self) -> bool:
        """Whether the filters narrow the list (a sort or columns only re-arrange it)."""
        return bool(self.args(sort=None, cols=None))


def companies_query(filters: CompanyFilters, *, with_deleted: bool = False) -> Select:
    """The company list (the current team's) as one SELECT: its filters, sorted by name or by
    a custom field (companies without a value last).

    Name or domain prefix search, both index ranges. The page shows it in pages, the CSV
    export streams it whole: the same companies in the same order. The API pages it in its
    own sorts, and with the trash for sync (`with_deleted`).
    """
    stmt = _unsorted(filters, with_deleted=with_deleted)
    if (custom_sort := _custom_sort(filters)) is not None:
        return custom_fields.export_order(stmt, Company.id, custom_sort)
    return stmt.order_by(Company.sort_name, Company.id)


def _unsorted(
    filters: CompanyFilters, *, with_deleted: bool = False, team_id: int | None = None
) -> Select:
    team_id = current_team().id if team_id is None else team_id
    stmt = scoped(Company, team_id=team_id, with_deleted=with_deleted)
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
    if filters.custom:
        stmt = custom_fields.filtered(stmt, team_id, "company", Company.id, filters.custom)
    return stmt


def _custom_sort(filters: CompanyFilters):
    """The custom field the list is sorted by, or None (sorted by name)."""
    if not custom_fields.is_sort(filters.sort):
        return None
    return custom_fields.sort_of(current_team().id, "company", filters.sort)


_ROW_LOADS = (selectinload(Company.tags), selectinload(Company.owner))


def company_count(team_id: int, user_id: int, args) -> int:
    """How many companies the list shows for these URL arguments (a saved view's count): the
    list's own filters in one SELECT count(*)."""
    stmt = _unsorted(CompanyFilters.from_args(args), team_id=team_id)
    return db.session.scalar(select(func.count()).select_from(stmt.subquery()))


def company_page(filters: CompanyFilters, cursor: str | None, limit: int = PAGE_SIZE):
    """One page of the list and the cursor of the next (None on the last page)."""
    if (custom_sort := _custom_sort(filters)) is not None:
        stmt = _unsorted(filters)
        page = custom_fields.page(stmt, Company.id, custom_sort, cursor, limit, _ROW_LOADS)
        return page.items, page.next_cursor
    stmt = companies_query(filters)
    if position := paging.decode(cursor, str, int):
        stmt = stmt.where(paging.after(Company.sort_name, Company.id, *position))
    rows = db.session.scalars(stmt.limit(limit + 1).options(*_ROW_LOADS)).all()
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


def export_header(team_id: int) -> list[str]:
    """The built-in columns, then one per custom field of companies."""
    return EXPORT_HEADER + [f.label for f in custom_fields.fields_for(team_id, "company")]


def export_rows(filters: CompanyFilters, batch: int = 500) -> Iterator[list]:
    """The rows of the list on screen (same query), a page of companies at a time, with one
    query per page for their custom values."""
    team_id = current_team().id
    defined = custom_fields.fields_for(team_id, "company")
    cursor = ""
    while cursor is not None:
        companies, cursor = company_page(filters, cursor or None, limit=batch)
        custom = custom_fields.read(team_id, "company", [c.id for c in companies], defined)
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
                *(custom_fields.export_cell(f, custom.get(c.id, {}).get(f.id)) for f in defined),
            ]
