"""The weekly pipeline email: Monday 08:00 in each subscriber's zone, exactly once a week.

Each (member, team, ISO week) is claimed by inserting a WeeklyReportClaim row, whose unique key
makes every other sweep (a second worker, a re-run after a restart) fail to insert it; the
claim and the outbox row are committed in one transaction, so a crash in between leaves
neither and the next sweep tries again. The outbox then sends that row at most once.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm import outbox
from crm.deals.money import format_money
from crm.extensions import db
from crm.kernel.dates import local_midnight, zone
from crm.models import (
    Deal,
    DealStatus,
    Membership,
    ReportSubscription,
    Team,
    User,
    WeeklyReportClaim,
    utcnow,
)
from crm.reports import queries
from crm.reports.periods import for_period

log = logging.getLogger(__name__)
SEND_HOUR = 8
# Missed at 08:00 (server down)? Still worth sending on Monday morning; later it is stale.
LATEST_HOUR = 12


def iso_week(day) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def subscribe(team_id: int, user_id: int, on: bool) -> None:
    existing = db.session.scalar(
        select(ReportSubscription).where(
            ReportSubscription.team_id == team_id, ReportSubscription.user_id == user_id
        )
    )
    if on and existing is None:
        db.session.add(ReportSubscription(team_id=team_id, user_id=user_id))
    elif not on and existing is not None:
        db.session.delete(existing)
    try:
        db.session.commit()
    except IntegrityError:  # a double submit subscribed already
        db.session.rollback()


def is_subscribed(team_id: int, user_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(ReportSubscription.id).where(
                ReportSubscription.team_id == team_id, ReportSubscription.user_id == user_id
            )
        )
    )


def _due(now: datetime) -> list[tuple[int, int, str]]:
    """(team, user, ISO week) of every subscriber whose Monday morning it is, not sent yet."""
    rows = db.session.execute(
        select(ReportSubscription.team_id, ReportSubscription.user_id, User.timezone)
        .join(User, User.id == ReportSubscription.user_id)
        # Only members still in the team get its numbers.
        .join(
            Membership,
            (Membership.team_id == ReportSubscription.team_id)
            & (Membership.user_id == ReportSubscription.user_id),
        )
    ).all()
    due = []
    for team_id, user_id, tz_name in rows:
        local = now.astimezone(zone(tz_name))
        if local.weekday() != 0 or not (time(SEND_HOUR) <= local.time() < time(LATEST_HOUR)):
            continue
        due.append((team_id, user_id, iso_week(local.date())))
    if not due:
        return []
    sent = set(
        db.session.execute(
            select(
                WeeklyReportClaim.team_id, WeeklyReportClaim.user_id, WeeklyReportClaim.iso_week
            ).where(WeeklyReportClaim.iso_week.in_({w for _, _, w in due}))
        ).all()
    )
    return [d for d in due if d not in sent]


def send_weekly_reports(now: datetime | None = None) -> int:
    now = now or utcnow()
    due = _due(now)
    db.session.commit()  # end the read: each claim below is its own transaction
    queued = 0
    for team_id, user_id, week in due:
        try:
            claim = WeeklyReportClaim(team_id=team_id, user_id=user_id, iso_week=week)
            db.session.add(claim)
            db.session.flush()  # the unique key: whoever inserts second stops here
        except IntegrityError:
            db.session.rollback()
            continue
        try:
            row = _queue(team_id, user_id, now)
            db.session.flush()
            claim.outbox_id = row.id
            db.session.commit()  # the claim and the outbox row, together or not at all
        except IntegrityError:
            db.session.rollback()
            continue
        except Exception:
            db.session.rollback()
            log.exception("weekly report for user %s failed; the next sweep retries", user_id)
            continue
        outbox.enqueue(row)
        queued += 1
    return queued


def summary(team_id: int, user: User, now: datetime) -> dict:
    """What the email says: my forecast, the team's last week, my deals needing attention."""
    tz = zone(user.timezone)
    month = for_period(team_id, tz, now, "this_month", owner_id=user.id)
    forecast = queries.forecast(month)
    this_monday = now.astimezone(tz).date() - timedelta(days=now.astimezone(tz).weekday())
    start = local_midnight(this_monday - timedelta(days=7), tz)
    end = local_midnight(this_monday, tz)
    closed = {}
    for status in (DealStatus.WON, DealStatus.LOST):
        closed[status.value] = db.session.execute(
            select(Deal.currency, func.count(Deal.id), func.sum(Deal.value_minor))
            .where(
                Deal.team_id == team_id,
                Deal.deleted_at.is_(None),
                Deal.status == status,
                Deal.closed_at >= start,
                Deal.closed_at < end,
            )
            .group_by(Deal.currency)
            .order_by(Deal.currency)
        ).all()
    mine = for_period(team_id, tz, now, "this_month", owner_id=user.id)
    health = queries.health(mine, now)
    attention = {d.id: d for d in health.rotting[:10] + health.idle[:10]}
    return {
        "forecast": [
            (cur, forecast.total("open", cur), forecast.total("won", cur))
            for cur in forecast.currencies
        ],
        "closed": closed,
        "week_label": f"{(this_monday - timedelta(days=7)).strftime('%d %b')} – "
        f"{(this_monday - timedelta(days=1)).strftime('%d %b')}",
        "rotting": health.rotting_count,
        "idle": health.idle_count,
        "attention": list(attention.values())[:10],
    }


def _queue(team_id: int, user_id: int, now: datetime):
    user = db.session.get(User, user_id, populate_existing=True)
    team = db.session.get(Team, team_id)
    base = current_app.config["BASE_URL"].rstrip("/")
    return outbox.queue_email(
        to=user.email,
        subject=f"Your pipeline this week · {team.name}",
        template="weekly_report",
        kind="weekly_report",
        team_id=None,  # personal: no team's outbox page lists it
        user=user,
        team=team,
        money=format_money,
        base_url=base,
        **summary(team_id, user, now),
    )
