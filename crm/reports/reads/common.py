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


def open_amounts(stmt_key, conds) -> dict:
    """(key…, currency) → Amounts of open deals, weighted by their stage's probability."""
    stmt = (
        select(
            *stmt_key,
            Deal.currency,
            func.count(Deal.id),
            func.coalesce(func.sum(Deal.value_minor), 0),
            func.coalesce(func.sum(Deal.value_minor * Stage.probability), 0),
        )
        .join(Stage, Stage.id == Deal.stage_id)
        .where(*conds, Deal.status == DealStatus.OPEN)
        .group_by(*stmt_key, Deal.currency)
    )
    out = {}
    for *key, currency, count, total, weighted_x100 in db.session.execute(stmt):
        a = Amounts(count)
        a.value[currency] = int(total)
        a.weighted[currency] = int(weighted_x100) // 100
        out[(*key, currency)] = a
    return out
