"""The reports' reads: forecast, win/loss, funnel, activity, pipeline health, the dashboard.

Every function takes ReportFilters (team, zone, period, pipeline, owner, tag) and returns plain
numbers; crm.reports.tables turns them into tables, charts and links. Money is kept per
currency (dict currency → minor units) and never added across currencies. Deals in the trash
are left out everywhere. Each report lives in its own module under crm.reports.reads; this
module only gathers their names for the routes, the tables and the weekly email.
"""

from __future__ import annotations

from crm.reports.reads.activity import KIND_KEYS, ActivityReport, activity
from crm.reports.reads.common import Amounts, deal_scope, members, month_key
from crm.reports.reads.dashboard import (
    Leader,
    leaderboard,
    open_by_stage,
    recent_activity,
    task_counts,
)
from crm.reports.reads.forecast import Forecast, forecast
from crm.reports.reads.funnel import Funnel, funnel
from crm.reports.reads.health import Health, health
from crm.reports.reads.win_loss import Reason, WinLoss, win_loss

__all__ = [
    "KIND_KEYS",
    "ActivityReport",
    "Amounts",
    "Forecast",
    "Funnel",
    "Health",
    "Leader",
    "Reason",
    "WinLoss",
    "activity",
    "deal_scope",
    "forecast",
    "funnel",
    "health",
    "leaderboard",
    "members",
    "month_key",
    "open_by_stage",
    "recent_activity",
    "task_counts",
    "win_loss",
]
