"""What every report read shares: the deal scope (team, trash, pipeline, owner, tag), the
team's members, money kept per currency, and open-deal amounts weighted by stage probability."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    ActivityKind,
    Deal,
    DealStatus,
    Membership,
    Stage,
    User,
    deal_tag,
)
from crm.reports.periods import ReportFilters

ACTIVITY_KINDS = (ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL)
LIST_LIMIT = 50


def per_currency() -> defaultdict[str, int]:
    return defaultdict(int)


def deal_scope(f: ReportFilters, *, owner: bool = True) -> list:
    """The WHERE of every deal report: the team, not in the trash, pipeline, owner, tag."""
    conds = [Deal.team_id == f.team_id, Deal.deleted_at.is_(None)]
    if f.pipeline_id:
        conds.append(Deal.pipeline_id == f.pipeline_id)
    if owner and f.owner_id:
        conds.append(Deal.owner_id == f.owner_id)
    if f.tag_id:
        conds.append(Deal.id.in_(select(deal_tag.c.deal_id).where(deal_tag.c.tag_id == f.tag_id)))
    return conds


def month_key(day: date) -> str:
    return day.strftime("%Y-%m")


def members(team_id: int) -> dict[int, str]:
    return dict(
        db.session.execute(
            select(User.id, User.name)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.team_id == team_id)
            .order_by(User.name)
        ).all()
    )


@dataclass
class Amounts:
    count: int = 0
    value: dict[str, int] = field(default_factory=per_currency)
    weighted: dict[str, int] = field(default_factory=per_currency)


def stage_probabilities(team_id: int) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(Stage.id, Stage.probability).where(Stage.team_id == team_id)
        ).all()
    )


def open_amounts(stmt_key, conds, probabilities: dict[int, int]) -> dict:
    """(key…, currency) → Amounts of open deals, weighted by their stage's probability.

    Summed per stage in SQL and weighted here (Σ value × p = Σ_stage p × Σ value), so the
    deals are read from a covering index without a join to their stage; the weighted sum
    is rounded down to the cent once per key and currency, as before.
    """
    stmt = (
        select(
            *stmt_key,
            Deal.currency,
            Deal.stage_id,
            func.count(Deal.id),
            func.coalesce(func.sum(Deal.value_minor), 0),
        )
        .where(*conds, Deal.status == DealStatus.OPEN)
        .group_by(*stmt_key, Deal.currency, Deal.stage_id)
    )
    out: dict[tuple, Amounts] = {}
    weighted_x100: dict[tuple, int] = defaultdict(int)
    for *key, currency, stage_id, count, total in db.session.execute(stmt):
        k = (*key, currency)
        a = out.setdefault(k, Amounts())
        a.count += count
        a.value[currency] += int(total)
        weighted_x100[k] += int(total) * probabilities.get(stage_id, 0)
    for k, a in out.items():
        a.weighted[k[-1]] = weighted_x100[k] // 100
    return out
