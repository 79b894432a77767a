"""Deal reads: the board, its columns and totals, the list, a deal's activities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from crm.extensions import db
from crm.kernel import custom_fields, paging
from crm.kernel.ids import parse_id
from crm.models import (
    Company,
    Contact,
    Deal,
    DealStageReach,
    DealStatus,
    LostReason,
    Pipeline,
    Stage,
    Tag,
    Task,
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
    # Set by the reports' links so a figure opens the deals behind it (see report_args()).
    currency: str | None = None
    no_close: bool = False
    closed_from: datetime | None = None  # [closed_from, closed_to): moments, any zone
    closed_to: datetime | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    reason_id: int | None = None
    stage_id: int | None = None
    reached_id: int | None = None  # reached this stage (or a later one) at some point
    no_reason: bool = False  # lost without a reason given
    rotting: bool = False  # open and quiet for longer than its stage allows
    no_task: bool = False  # no open task linked to it
    # Custom field filters as their URL arguments and the list's custom columns, kept as the
    # contact list keeps them (crm.kernel.custom_fields reads them with the team's fields).
    custom: tuple[tuple[str, str], ...] = ()
    columns: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args) -> Filters:
        def as_date(name):
            try:
                return date.fromisoformat(args.get(name, ""))
            except ValueError:
                return None

        def as_moment(name):
            try:
                value = datetime.fromisoformat(args.get(name, ""))
            except ValueError:
                return None
            return value if value.tzinfo else value.replace(tzinfo=UTC)

        currency = (args.get("currency") or "").strip().upper()
        return cls(
            owner_id=args.get("owner", type=parse_id),
            tag_id=args.get("tag", type=parse_id),
            q=(args.get("q") or "").strip()[:100],
            close_from=as_date("close_from"),
            close_to=as_date("close_to"),
            currency=currency if len(currency) == 3 and currency.isalpha() else None,
            no_close=args.get("no_close") == "1",
            closed_from=as_moment("closed_from"),
            closed_to=as_moment("closed_to"),
            created_from=as_moment("created_from"),
            created_to=as_moment("created_to"),
            reason_id=args.get("reason", type=parse_id),
            no_reason=args.get("reason") == "none",
            rotting=args.get("rotting") == "1",
            no_task=args.get("no_task") == "1",
            stage_id=args.get("stage", type=parse_id),
            reached_id=args.get("reached", type=parse_id),
            custom=custom_fields.custom_args(args),
            columns=custom_fields.column_keys(args),
        )

    def report_args(self) -> dict:
        """The filters only a report's link sets (the list's form keeps them as hidden fields)."""
        out = {
            "currency": self.currency,
            "no_close": "1" if self.no_close else None,
            "closed_from": self.closed_from and self.closed_from.isoformat(),
            "closed_to": self.closed_to and self.closed_to.isoformat(),
            "created_from": self.created_from and self.created_from.isoformat(),
            "created_to": self.created_to and self.created_to.isoformat(),
            "reason": self.reason_id,
            "stage": self.stage_id,
            "reached": self.reached_id,
            "rotting": "1" if self.rotting else None,
            "no_task": "1" if self.no_task else None,
        }
        if self.no_reason:
            out["reason"] = "none"
        return {k: v for k, v in out.items() if v}

    def as_args(self) -> dict:
        out = {
            "owner": self.owner_id,
            "tag": self.tag_id,
            "q": self.q or None,
            "close_from": self.close_from and self.close_from.isoformat(),
            "close_to": self.close_to and self.close_to.isoformat(),
            "cols": ",".join(self.columns),
            **dict(self.custom),
        }
        return {k: v for k, v in out.items() if v} | self.report_args()

    @property
    def active(self) -> bool:
        return bool({k: v for k, v in self.as_args().items() if k != "cols"})

    def apply(self, stmt: Select, team_id: int | None = None) -> Select:
        """The filters on a SELECT of deals; the custom ones need the team (`team_id`)."""
        if self.custom and team_id is not None:
            stmt = custom_fields.filtered(stmt, team_id, "deal", Deal.id, self.custom)
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
        return self._apply_report(stmt)

    def _apply_report(self, stmt: Select) -> Select:
        if self.currency:
            stmt = stmt.where(Deal.currency == self.currency)
        if self.no_close:
            stmt = stmt.where(Deal.expected_close.is_(None))
        for value, column, op in (
            (self.closed_from, Deal.closed_at, "ge"),
            (self.closed_to, Deal.closed_at, "lt"),
            (self.created_from, Deal.created_at, "ge"),
            (self.created_to, Deal.created_at, "lt"),
        ):
            if value:
                stmt = stmt.where(column >= value if op == "ge" else column < value)
        if self.reason_id:
            stmt = stmt.where(Deal.lost_reason_id == self.reason_id)
        if self.no_reason:
            stmt = stmt.where(Deal.lost_reason_id.is_(None))
        if self.stage_id:
            stmt = stmt.where(Deal.stage_id == self.stage_id)
        if self.reached_id:
            # The funnel's rule and summary: its furthest stage there is this one or a later one.
            target = aliased(Stage)
            reached = (
                select(DealStageReach.deal_id)
                .join(Stage, Stage.id == DealStageReach.stage_id)
                .join(target, target.id == self.reached_id)
                .where(
                    DealStageReach.furthest.is_(True),
                    Stage.pipeline_id == target.pipeline_id,
                    Stage.position >= target.position,
                )
            )
            stmt = stmt.where(Deal.id.in_(reached))
        return stmt


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
        ),
        team_id,
    )


def column_cards(
    team_id: int,
    stage: Stage,
    filters: Filters,
    *,
    after: str | None = None,
    limit: int = COLUMN_PAGE,
) -> tuple[list[Deal], str | None]:
    """One page of a column's cards in board order; the cursor of the next page or None."""
    stmt = open_in_stage(team_id, stage, filters).options(*_card_options())
    if position := paging.decode(after, int, int):
        stmt = stmt.where(paging.after(Deal.position, Deal.id, *position))
    rows = list(db.session.scalars(stmt.order_by(Deal.position, Deal.id).limit(limit + 1)))
    page = paging.take(rows, limit, lambda deal: paging.encode(deal.position, deal.id))
    return page.items, page.next_cursor


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
        .group_by(Deal.stage_id, Deal.currency),
        team_id,
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
    cursor: str | None
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


def rotting_condition(team_id: int, now: datetime, pipeline_id: int | None = None):
    """Open deals with no activity (nor a stage change, nor creation) for their stage's
    rot_days: one OR branch per stage that has a limit, so it stays plain comparisons."""
    stmt = select(Stage.id, Stage.rot_days).where(
        Stage.team_id == team_id, Stage.rot_days.is_not(None), Stage.rot_days > 0
    )
    if pipeline_id:
        stmt = stmt.where(Stage.pipeline_id == pipeline_id)
    branches = []
    for stage_id, rot_days in db.session.execute(stmt):
        cutoff = now - timedelta(days=rot_days)
        branches.append(
            and_(
                Deal.stage_id == stage_id,
                Deal.created_at < cutoff,
                or_(Deal.last_activity_at.is_(None), Deal.last_activity_at < cutoff),
                or_(Deal.stage_entered_at.is_(None), Deal.stage_entered_at < cutoff),
            )
        )
    return or_(*branches) if branches else Deal.id.is_(None)


def without_open_task(team_id: int):
    """Deals with no open task linked to them (the pipeline health's "no next step")."""
    # Uncorrelated on purpose: one pass over the open tasks, not one probe per deal (SQLite
    # picked the (team, done_at) index for the correlated form and scanned it per deal).
    open_deal_ids = select(Task.deal_id).where(
        Task.team_id == team_id, Task.done_at.is_(None), Task.deal_id.is_not(None)
    )
    return Deal.id.not_in(open_deal_ids)


# --- The list --------------------------------------------------------------------------------

SORTS = {
    "title": (func.lower(Deal.title), False),
    "value": (Deal.value_minor, True),
    "close": (func.coalesce(Deal.expected_close, date(9999, 12, 31)), False),
    "created": (Deal.created_at, True),
    "updated": (Deal.updated_at, True),
}
SORT_LABELS = {
    "updated": "Recently updated",
    "created": "Newest",
    "value": "Value",
    "close": "Expected close",
    "title": "Title",
}
STATUSES = ("open", "won", "lost", "all")


def list_args(team_id: int, args) -> tuple[Pipeline | None, Filters, str, str]:
    """The list's pipeline (only when one is asked for), filters, status and sort from its URL
    arguments."""
    pipeline_id = args.get("pipeline", type=parse_id)
    pipeline = current_pipeline(team_id, pipeline_id) if pipeline_id else None
    status = args.get("status", "open")
    status = status if status in STATUSES else "open"
    sort = args.get("sort", "updated")
    sort = sort if sort in SORTS or custom_fields.is_sort(sort) else "updated"
    return pipeline, Filters.from_args(args), status, sort


def list_count(team_id: int, user_id: int, args) -> int:
    """How many deals the list shows for these URL arguments (a saved view's count): the
    list's own query in one SELECT count(*)."""
    pipeline, filters, status, _ = list_args(team_id, args)
    stmt = list_query(team_id, pipeline, filters, status)
    return db.session.scalar(select(func.count()).select_from(stmt.subquery()))


def board_count(team_id: int, user_id: int, args) -> int:
    """How many cards the board shows for these URL arguments: the open deals of its pipeline
    that pass the filters (the sum of its columns' counts), in one SELECT count(*)."""
    pipeline = current_pipeline(team_id, args.get("pipeline", type=parse_id))
    if pipeline is None:
        return 0
    stmt = Filters.from_args(args).apply(
        scoped(Deal, team_id=team_id).where(
            Deal.pipeline_id == pipeline.id, Deal.status == DealStatus.OPEN
        ),
        team_id,
    )
    return db.session.scalar(select(func.count()).select_from(stmt.subquery()))


def list_query(
    team_id: int, pipeline: Pipeline | None, filters: Filters, status: str = "open"
) -> Select:
    stmt = filters.apply(scoped(Deal, team_id=team_id), team_id)
    if pipeline is not None:
        stmt = stmt.where(Deal.pipeline_id == pipeline.id)
    # The pipeline health's figures (the same conditions as the report's).
    if filters.rotting:
        stmt = stmt.where(
            Deal.status == DealStatus.OPEN,
            rotting_condition(team_id, utcnow(), pipeline.id if pipeline else None),
        )
    if filters.no_task:
        stmt = stmt.where(without_open_task(team_id))
    if status in ("open", "won", "lost"):
        stmt = stmt.where(Deal.status == DealStatus(status))
    return stmt


def list_page(
    stmt: Select,
    sort: str,
    cursor: str | None,
    limit: int = LIST_PAGE,
    *,
    team_id: int | None = None,
):
    """Keyset pages over (sort key, id) (crm.kernel.paging); sorted by a custom field
    (`cf_<key>` / `-cf_<key>`, needs `team_id`): over (value, id), deals without one last."""
    options = (*_card_options(), selectinload(Deal.stage), selectinload(Deal.lost_reason))
    if team_id is not None and (custom := custom_fields.sort_of(team_id, "deal", sort)):
        page = custom_fields.page(stmt, Deal.id, custom, cursor, limit, options)
        return page.items, page.next_cursor
    key, desc = SORTS.get(sort, SORTS["updated"])
    if position := paging.decode(cursor, _SORT_TYPES.get(sort, datetime), int):
        stmt = stmt.where(paging.after(key, Deal.id, *position, desc=desc))
    order = (key.desc(), Deal.id.desc()) if desc else (key, Deal.id)
    rows = list(db.session.scalars(stmt.options(*options).order_by(*order).limit(limit + 1)))
    page = paging.take(rows, limit, lambda deal: _cursor_of(deal, sort))
    return page.items, page.next_cursor


_SORT_TYPES = {"title": str, "value": int, "close": date, "created": datetime}


def _cursor_of(deal: Deal, sort: str) -> str:
    if sort == "title":
        value = deal.title.lower()
    elif sort == "value":
        value = deal.value_minor
    elif sort == "close":
        value = deal.expected_close or date(9999, 12, 31)
    elif sort == "created":
        value = deal.created_at
    else:
        value = deal.updated_at
    return paging.encode(value, deal.id)


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
