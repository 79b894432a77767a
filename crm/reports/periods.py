"""Report filters from the URL: the period (in the viewer's zone), pipeline, owner and tag.

A period is a named range of local calendar days, turned into UTC moments [start, end) with
the viewer's zone, so "this month" means the same days on the page, in the CSV and in the
deal list a figure links to.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from flask import abort
from sqlalchemy import select

from crm.extensions import db
from crm.kernel.dates import local_midnight
from crm.kernel.ids import parse_id
from crm.models import Membership, Pipeline, Tag
from crm.security import scoped

PERIODS = {
    "this_month": "This month",
    "last_month": "Last month",
    "this_quarter": "This quarter",
    "last_quarter": "Last quarter",
    "next_quarter": "Next quarter",
    "this_year": "This year",
    "last_year": "Last year",
    "last_12_months": "Last 12 months",
    "next_12_months": "Next 12 months",
}


def period_days(name: str, today: date) -> tuple[date, date]:
    """The local days [first, after_last) of a named period around `today`."""
    month = today.replace(day=1)
    quarter = month.replace(month=(month.month - 1) // 3 * 3 + 1)
    year = today.replace(month=1, day=1)
    return {
        "this_month": (month, month + relativedelta(months=1)),
        "last_month": (month - relativedelta(months=1), month),
        "this_quarter": (quarter, quarter + relativedelta(months=3)),
        "last_quarter": (quarter - relativedelta(months=3), quarter),
        "next_quarter": (quarter + relativedelta(months=3), quarter + relativedelta(months=6)),
        "this_year": (year, year + relativedelta(years=1)),
        "last_year": (year - relativedelta(years=1), year),
        "last_12_months": (month - relativedelta(months=11), month + relativedelta(months=1)),
        "next_12_months": (month, month + relativedelta(months=12)),
    }[name]


def months(first: date, after: date) -> list[date]:
    out, m = [], first.replace(day=1)
    while m < after:
        out.append(m)
        m += relativedelta(months=1)
    return out


def weeks(first: date, after: date) -> list[date]:
    """The Mondays of the weeks that overlap [first, after)."""
    monday = first - timedelta(days=first.weekday())
    out = []
    while monday < after:
        out.append(monday)
        monday += timedelta(days=7)
    return out


@dataclass
class ReportFilters:
    team_id: int
    tz: object
    today: date
    period: str
    first: date  # local days [first, after)
    after: date
    pipeline_id: int | None = None
    owner_id: int | None = None
    tag_id: int | None = None

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, self.tz)

    @property
    def end(self) -> datetime:
        return local_midnight(self.after, self.tz)

    @property
    def utc_offset_minutes(self) -> int:
        """The zone's offset at the period's start: months and weeks are bucketed with it."""
        offset = self.start.astimezone(self.tz).utcoffset()
        return int(offset.total_seconds() // 60) if offset else 0

    def args(self, **override) -> dict:
        out = {
            "period": self.period,
            "pipeline": self.pipeline_id,
            "owner": self.owner_id,
            "tag": self.tag_id,
        } | override
        return {k: v for k, v in out.items() if v}

    def with_period(self, name: str) -> ReportFilters:
        first, after = period_days(name, self.today)
        return replace(self, period=name, first=first, after=after)

    def deal_args(self) -> dict:
        """The deal list's filters that match this report's pipeline, owner and tag."""
        out = {"pipeline": self.pipeline_id, "owner": self.owner_id, "tag": self.tag_id}
        return {k: v for k, v in out.items() if v}


def from_args(
    args, *, team_id: int, tz, now: datetime, default_period: str = "this_quarter"
) -> ReportFilters:
    """Filters from a query string; another team's pipeline, member or tag is a 404."""
    period = args.get("period") or default_period
    if period not in PERIODS:
        period = default_period
    today = now.astimezone(tz).date()
    first, after = period_days(period, today)
    pipeline_id = args.get("pipeline", type=parse_id)
    owner_id = args.get("owner", type=parse_id)
    tag_id = args.get("tag", type=parse_id)
    if pipeline_id and not db.session.scalar(
        scoped(Pipeline, team_id=team_id)
        .where(Pipeline.id == pipeline_id)
        .with_only_columns(Pipeline.id)
    ):
        abort(404)
    if owner_id and not db.session.scalar(
        select(Membership.id).where(Membership.team_id == team_id, Membership.user_id == owner_id)
    ):
        abort(404)
    if tag_id and not db.session.scalar(
        scoped(Tag, team_id=team_id).where(Tag.id == tag_id).with_only_columns(Tag.id)
    ):
        abort(404)
    return ReportFilters(
        team_id=team_id,
        tz=tz,
        today=today,
        period=period,
        first=first,
        after=after,
        pipeline_id=pipeline_id,
        owner_id=owner_id,
        tag_id=tag_id,
    )


def for_period(
    team_id: int, tz, now: datetime, period: str, *, owner_id: int | None = None
) -> ReportFilters:
    """Filters for code that knows what it wants (the dashboard, the weekly email)."""
    today = now.astimezone(tz).date()
    first, after = period_days(period, today)
    return ReportFilters(team_id, tz, today, period, first, after, owner_id=owner_id)
