"""Forecast: open deals by expected-close month (weighted), won by month, and the deals
shown apart (close date passed, no date)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    Deal,
    DealStatus,
)
from crm.reports.periods import ReportFilters, months
from crm.reports.reads.common import (
    Amounts,
    deal_scope,
    open_amounts,
    stage_probabilities,
)
from crm.reports.sqlfn import month_of


@dataclass
class Forecast:
    months: list[date]
    currencies: list[str]
    open: dict[tuple[str, str], Amounts]  # (month key, currency) → open deals closing then
    won: dict[tuple[str, str], Amounts]  # (month key, currency) → deals won then
    past: dict[str, Amounts]  # currency → open deals whose expected close has passed
    no_date: dict[str, Amounts]  # currency → open deals without an expected close

    def total(self, which: str, currency: str) -> Amounts:
        out = Amounts()
        for (_, cur), a in getattr(self, which).items():
            if cur == currency:
                out.count += a.count
                out.value[cur] += a.value[cur]
                out.weighted[cur] += a.weighted[cur]
        return out


def forecast(f: ReportFilters) -> Forecast:
    conds = deal_scope(f)
    odds = stage_probabilities(f.team_id)
    first_open = max(f.first, f.today)
    month = month_of(Deal.expected_close, is_date=True)
    open_ = {
        (m, cur): a
        for (m, cur), a in open_amounts(
            [month],
            conds + [Deal.expected_close >= first_open, Deal.expected_close < f.after],
            odds,
        ).items()
    }
    past = {
        cur: a
        for (cur,), a in open_amounts([], conds + [Deal.expected_close < f.today], odds).items()
    }
    no_date = {
        cur: a
        for (cur,), a in open_amounts([], conds + [Deal.expected_close.is_(None)], odds).items()
    }
    won_month = month_of(Deal.closed_at, f.utc_offset_minutes)
    won = {}
    for m, cur, count, total in db.session.execute(
        select(won_month, Deal.currency, func.count(Deal.id), func.sum(Deal.value_minor))
        .where(
            *conds,
            Deal.status == DealStatus.WON,
            Deal.closed_at >= f.start,
            Deal.closed_at < f.end,
        )
        .group_by(won_month, Deal.currency)
    ):
        a = Amounts(count)
        a.value[cur] = int(total or 0)
        won[(m, cur)] = a
    currencies = sorted({k[1] for k in open_} | {k[1] for k in won} | set(past) | set(no_date))
    return Forecast(months(f.first, f.after), currencies, open_, won, past, no_date)
