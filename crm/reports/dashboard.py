"""The signed-in member's dashboard: my forecast, my open deals, my tasks, my recent activity
and the team's leaderboard, each tile linking to the report behind it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from crm.extensions import db
from crm.kernel.dates import day_bounds, zone
from crm.models import Deal, Team, User
from crm.reports import queries
from crm.reports.periods import for_period


def context(team: Team, user: User, now: datetime) -> dict:
    tz = zone(user.timezone)
    month = for_period(team.id, tz, now, "this_month", owner_id=user.id)
    quarter = for_period(team.id, tz, now, "this_quarter", owner_id=user.id)
    forecasts = []
    for label, f in (("This month", month), ("This quarter", quarter)):
        r = queries.forecast(f)
        forecasts.append(
            {
                "label": label,
                "period": f.period,
                "rows": [(cur, r.total("open", cur), r.total("won", cur)) for cur in r.currencies],
            }
        )
    _, start_today, start_tomorrow = day_bounds(now, tz)
    (overdue_n, overdue), (today_n, today) = queries.task_counts(
        team.id, user.id, now, start_today, start_tomorrow
    )
    has_deals = db.session.scalar(
        select(Deal.id).where(Deal.team_id == team.id, Deal.deleted_at.is_(None)).limit(1)
    )
    return {
        "forecasts": forecasts,
        "open_by_stage": queries.open_by_stage(month),
        "overdue": overdue,
        "overdue_count": overdue_n,
        "today_tasks": today,
        "today_count": today_n,
        "recent": queries.recent_activity(team.id, user.id),
        "leaders": queries.leaderboard(for_period(team.id, tz, now, "this_month")),
        "has_deals": bool(has_deals),
    }
