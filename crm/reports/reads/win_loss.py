"""Win/loss: won and lost by month of closing, win rate, average won deal, sales cycle,
lost reasons ranked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    Deal,
    DealStatus,
    LostReason,
)
from crm.reports.periods import ReportFilters, months
from crm.reports.reads.common import (
    Amounts,
    deal_scope,
    per_currency,
)
from crm.reports.sqlfn import days_between, month_of


@dataclass
class Reason:
    id: int | None
    name: str
    count: int = 0
    value: dict[str, int] = field(default_factory=per_currency)


@dataclass
class WinLoss:
    months: list[date]
    currencies: list[str]
    won: dict[tuple[str, str], Amounts]
    lost: dict[tuple[str, str], Amounts]
    cycle_days: float | None  # average days from created to won
    reasons: list[Reason]

    def counts(self, which: str, month: str | None = None) -> int:
        return sum(a.count for (m, _), a in getattr(self, which).items() if month in (None, m))

    def value(self, which: str, currency: str) -> int:
        return sum(a.value[c] for (_, c), a in getattr(self, which).items() if c == currency)

    def win_rate(self, month: str | None = None) -> float | None:
        won, lost = self.counts("won", month), self.counts("lost", month)
        return won / (won + lost) if won + lost else None

    def average_won(self, currency: str) -> int | None:
        count = sum(a.count for (_, c), a in self.won.items() if c == currency)
        return self.value("won", currency) // count if count else None


def win_loss(f: ReportFilters) -> WinLoss:
    conds = deal_scope(f) + [Deal.closed_at >= f.start, Deal.closed_at < f.end]
    m = month_of(Deal.closed_at, f.utc_offset_minutes)
    won, lost = {}, {}
    for month, cur, status, count, total in db.session.execute(
        select(m, Deal.currency, Deal.status, func.count(Deal.id), func.sum(Deal.value_minor))
        .where(*conds, Deal.status.in_((DealStatus.WON, DealStatus.LOST)))
        .group_by(m, Deal.currency, Deal.status)
    ):
        a = Amounts(count)
        a.value[cur] = int(total or 0)
        (won if status == DealStatus.WON else lost)[(month, cur)] = a
    cycle = db.session.scalar(
        select(func.avg(days_between(Deal.created_at, Deal.closed_at))).where(
            *conds, Deal.status == DealStatus.WON
        )
    )
    reasons: dict[int | None, Reason] = {}
    for reason_id, name, cur, count, total in db.session.execute(
        select(
            Deal.lost_reason_id,
            LostReason.name,
            Deal.currency,
            func.count(Deal.id),
            func.sum(Deal.value_minor),
        )
        .outerjoin(LostReason, LostReason.id == Deal.lost_reason_id)
        .where(*conds, Deal.status == DealStatus.LOST)
        .group_by(Deal.lost_reason_id, LostReason.name, Deal.currency)
    ):
        r = reasons.setdefault(reason_id, Reason(reason_id, name or "No reason given"))
        r.count += count
        r.value[cur] += int(total or 0)
    currencies = sorted({k[1] for k in won} | {k[1] for k in lost})
    return WinLoss(
        months(f.first, f.after),
        currencies,
        won,
        lost,
        float(cycle) if cycle is not None else None,
        sorted(reasons.values(), key=lambda r: (-r.count, r.name)),
    )
