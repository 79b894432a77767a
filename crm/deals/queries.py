"""Deal reads: the board, its columns and totals, the list, a deal's activities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from crm.extensions import db
from crm.models import (
    Company,
    Contact,
    Deal,
    DealStatus,
    LostReason,
    Membership,
    Pipeline,
    Stage,
    Tag,
    User,
    deal_contact,
    deal_tag,
    utcnow,
)
from crm.security import scoped

COLUMN_PAGE = 20
LIST_PAGE = 50


@dataclass
class Filters:
    owner_id: int | None = None
    tag_id: int | None = None
    q: str = ""
    close_from: date | None = None
    close_to: date | None = None

    @classmethod
    def from_args(cls, args) -> Filters:
        def as_date(name):
            try:
                return date.fromisoformat(args.get(name, ""))
            except ValueError:
                return None

        return cls(
            owner_id=args.get("owner", type=int),
            tag_id=args.get("tag", type=int),
            q=(args.get("q") or "").strip()[:100],
            close_from=as_date("close_from"),
            close_to=as_date("close_to"),
        )

    def as_args(self) -> dict:
        out = {
            "owner": self.owner_id,
            "tag": self.tag_id,
            "q": self.q or None,
            "close_from": self.close_from and self.close_from.isoformat(),
            "close_to": self.close_to and self.close_to.isoformat(),
        }
        return {k: v for k, v in out.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.as_args())

    def apply(self, stmt: Select) -> Select:
        if self.owner_id:
            stmt = stmt.where(Deal.owner_id == self.owner_id)
        if self.tag_id:
            stmt = stmt.where(
                Deal.id.in_(select(deal_tag.c.deal_id).where(deal_tag.c.tag_id == self.tag_id))
            )
        if self.q:
            like = f"%{self.q.replace('%', '').replace('_', '')}%"
            stmt = stmt.where(Deal.title.ilike(like))
        if self.close_from:
            stmt = stmt.where(Deal.expected_close >= self.close_from)
        if self.close_to:
            stmt = stmt.where(Deal.expected_close <= self.close_to)
        return stmt


def after_key(key, id_col, value, id_, *, desc: bool = False):
    """(key, id) strictly after (value, id_) in the sort order, written with plain comparisons
    so the bound value takes the column's type (UTCDateTime converts aware datetimes)."""
    if desc:
        return or_(key < value, and_(key == value, id_col < id_))
    return or_(key > value, and_(key == value, id_col > id_))


def pipelines(team_id: int) -> list[Pipeline]:
    return list(
        db.session.scalars(
            scoped(Pipeline, team_id=team_id)
            .options(selectinload(Pipeline.stages))
            .order_by(Pipeline.position, Pipeline.id)
        )
    )


def current_pipeline(team_id: int, pipeline_id: int | None) -> Pipeline | None:
    """The asked-for pipeline, else the team's default, else its first."""
    all_ = pipelines(team_id)
    by_id = {p.id: p for p in all_}
    if pipeline_id in by_id:
        return by_id[pipeline_id]
    return next((p for p in all_ if p.is_default), all_[0] if all_ else None)


def owners(team_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User).join(Membership).where(Membership.team_id == team_id).order_by(User.name)
        )
    )


def tags(team_id: int) -> list[Tag]:
    return list(db.session.scalars(scoped(Tag, team_id=team_id).order_by(Tag.name).limit(500)))


def lost_reasons(team_id: int) -> list[LostReason]:
    return list(
        db.session.scalars(
            scoped(LostReason, team_id=team_id).order_by(LostReason.position, LostReason.id)
        )
    )


def _card_options():
    return (joinedload(Deal.owner), joinedload(Deal.company))


def open_in_stage(team_id: int, stage: Stage, filters: Filters) -> Select:
    return filters.apply(
        scoped(Deal, team_id=team_id).where(
            Deal.pipeline_id == stage.pipeline_id,
            Deal.status == DealStatus.OPEN,
            Deal.stage_id == stage.id,
        )
    )


def column_cards(
    team_id: int,
    stage: Stage,
    filters: Filters,
    *,
    after: tuple[int, int] | None = None,
    limit: int = COLUMN_PAGE,
) -> tuple[list[Deal], tuple[int, int] | None]:
    """One page of a column's cards in board order; the cursor of the next page or None."""
    stmt = open_in_stage(team_id, stage, filters).options(*_card_options())
    if after:
        stmt = stmt.where(after_key(Deal.position, Deal.id, *after))
    rows = list(db.session.scalars(stmt.order_by(Deal.position, Deal.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1].position, rows[-1].id) if more else None)


@dataclass
class Totals:
    count: int = 0
    by_currency: dict[str, int] = field(default_factory=dict)
    weighted: dict[str, int] = field(default_factory=dict)


def column_totals(
    team_id: int, pipeline: Pipeline, filters: Filters, stage_ids=None
) -> dict[int, Totals]:
    """Count, total and weighted total of every open stage: one GROUP BY query."""
    stmt = filters.apply(
        select(Deal.stage_id, Deal.currency, func.count(Deal.id), func.sum(Deal.value_minor))
        .where(
            Deal.team_id == team_id,
            Deal.pipeline_id == pipeline.id,
            Deal.status == DealStatus.OPEN,
            Deal.deleted_at.is_(None),
        )
        .group_by(Deal.stage_id, Deal.currency)
    )
    if stage_ids:
        stmt = stmt.where(Deal.stage_id.in_(stage_ids))
    probability = {s.id: s.probability for s in pipeline.stages}
    totals: dict[int, Totals] = {s.id: Totals() for s in pipeline.stages}
    for stage_id, currency, count, total in db.session.execute(stmt):
        t = totals.setdefault(stage_id, Totals())
        t.count += count
        t.by_currency[currency] = t.by_currency.get(currency, 0) + (total or 0)
        t.weighted[currency] = t.weighted.get(currency, 0) + (
            (total or 0) * probability.get(stage_id, 0) // 100
        )
    return totals


@dataclass
class Column:
    stage: Stage
    cards: list[Deal]
    cursor: tuple[int, int] | None
    totals: Totals


def board(team_id: int, pipeline: Pipeline, filters: Filters) -> list[Column]:
    totals = column_totals(team_id, pipeline, filters)
    columns = []
    for stage in pipeline.stages:
        if totals[stage.id].count:
            cards, cursor = column_cards(team_id, stage, filters)
        else:
            cards, cursor = [], None
        columns.append(Column(stage, cards, cursor, totals[stage.id]))
    return columns


def is_rotting(deal: Deal, stage: Stage, now: datetime | None = None) -> bool:
    """No activity for the stage's rot_days (counting from entering the stage at the latest)."""
    if not stage.rot_days or deal.status != DealStatus.OPEN:
        return False
    last = max(d for d in (deal.last_activity_at, deal.stage_entered_at, deal.created_at) if d)
    return (now or utcnow()) - last > timedelta(days=stage.rot_days)


# --- The list --------------------------------------------------------------------------------

SORTS = {
    "title": (func.lower(Deal.title), False),
    "value": (Deal.value_minor, True),
    "close": (func.coalesce(Deal.expected_close, date(9999, 12, 31)), False),
    "created": (Deal.created_at, True),
    "updated": (Deal.updated_at, True),
}
STATUSES = ("open", "won", "lost", "all")


def list_query(
    team_id: int, pipeline: Pipeline | None, filters: Filters, status: str = "open"
) -> Select:
    stmt = filters.apply(scoped(Deal, team_id=team_id))
    if pipeline is not None:
        stmt = stmt.where(Deal.pipeline_id == pipeline.id)
    if status in ("open", "won", "lost"):
        stmt = stmt.where(Deal.status == DealStatus(status))
    return stmt


def list_page(stmt: Select, sort: str, cursor: str | None, limit: int = LIST_PAGE):
    """Keyset pages over (sort key, id); cursor is the last row's "key|id" as text."""
    key, desc = SORTS.get(sort, SORTS["updated"])
    if cursor:
        raw_key, _, raw_id = cursor.rpartition("|")
        value = _cursor_value(sort, raw_key)
        if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18 and value is not None:
            stmt = stmt.where(after_key(key, Deal.id, value, int(raw_id), desc=desc))
    order = (key.desc(), Deal.id.desc()) if desc else (key, Deal.id)
    rows = list(
        db.session.scalars(
            stmt.options(*_card_options(), selectinload(Deal.stage), selectinload(Deal.lost_reason))
            .order_by(*order)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_cursor_of(rows[-1], sort) if more else None)


def _cursor_of(deal: Deal, sort: str) -> str:
    if sort == "title":
        value = deal.title.lower()
    elif sort == "value":
        value = str(deal.value_minor)
    elif sort == "close":
        value = (deal.expected_close or date(9999, 12, 31)).isoformat()
    elif sort == "created":
        value = deal.created_at.isoformat()
    else:
        value = deal.updated_at.isoformat()
    return f"{value}|{deal.id}"


def _cursor_value(sort: str, raw: str):
    """The sort key a cursor carries, or None when it carries none (a hand-edited URL): the
    list then starts from the top instead of comparing a column with text."""
    try:
        if sort == "title":
            return raw
        if sort == "value":
            value = int(raw)
            return value if abs(value) < 2**63 else None
        if sort == "close":
            return date.fromisoformat(raw)
        return datetime.fromisoformat(raw)  # created, updated, and what lists as updated
    except ValueError:
        return None


# --- A deal's page and the deals of a contact or company -------------------------------------


def deal_for_page(deal_id: int) -> Deal | None:
    return db.session.scalars(
        scoped(Deal)
        .where(Deal.id == deal_id)
        .options(
            selectinload(Deal.contacts),
            selectinload(Deal.tags),
            selectinload(Deal.owner),
            selectinload(Deal.company),
            selectinload(Deal.stage),
            selectinload(Deal.pipeline).selectinload(Pipeline.stages),
        )
    ).first()


def deals_for_contact(team_id: int, contact_id: int, limit: int = 50) -> list[Deal]:
    """Deals a contact takes part in (open first, newest first): for the contact's page."""
    return list(
        db.session.scalars(
            scoped(Deal, team_id=team_id)
            .where(
                Deal.id.in_(
                    select(deal_contact.c.deal_id).where(deal_contact.c.contact_id == contact_id)
                )
            )
            .options(selectinload(Deal.stage))
            .order_by((Deal.status == DealStatus.OPEN).desc(), Deal.created_at.desc())
            .limit(limit)
        )
    )


def deals_for_company(team_id: int, company_id: int, limit: int = 50) -> list[Deal]:
    """A company's deals (open first, newest first): for the company's page."""
    return list(
        db.session.scalars(
            scoped(Deal, team_id=team_id)
            .where(Deal.company_id == company_id)
            .options(selectinload(Deal.stage))
            .order_by((Deal.status == DealStatus.OPEN).desc(), Deal.created_at.desc())
            .limit(limit)
        )
    )


def companies_for_picker(team_id: int, limit: int = 500) -> list[Company]:
    return list(
        db.session.scalars(
            scoped(Company, team_id=team_id).order_by(Company.sort_name, Company.id).limit(limit)
        )
    )


def contacts_by_ids(team_id: int, ids) -> list[Contact]:
    if not ids:
        return []
    return list(db.session.scalars(scoped(Contact, team_id=team_id).where(Contact.id.in_(ids))))
