"""Task recurrence and reminder moments, stepped in the assignee's local wall-clock time.

Generic zone arithmetic (a zone by name, a local day's UTC bounds) is crm.kernel.dates.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from crm.kernel.dates import combine, local_midnight

# An all-day task reminds at this local hour on its due date (minus the chosen lead time).
ALL_DAY_REMIND_HOUR = 9
RECURRENCES = ("daily", "weekdays", "weekly", "monthly")


def valid_recurrence(rule: str | None) -> str | None:
    """Normalise a recurrence rule, or raise ValueError."""
    if not rule:
        return None
    rule = rule.strip().lower()
    if rule in RECURRENCES:
        return rule
    if rule.startswith("every:"):
        n = int(rule.split(":", 1)[1])
        if 1 <= n <= 365:
            return f"every:{n}"
    raise ValueError(f"unknown recurrence {rule!r}")


def _step(day: date, rule: str) -> date:
    if rule == "daily":
        return day + timedelta(days=1)
    if rule == "weekdays":
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day
    if rule == "weekly":
        return day + timedelta(days=7)
    if rule == "monthly":
        return day + relativedelta(months=1)
    return day + timedelta(days=int(rule.split(":", 1)[1]))


def next_due(due_at: datetime | None, all_day: bool, rule: str, now: datetime, tz: ZoneInfo):
    """The next occurrence's due moment: stepped in local wall-clock time (DST-safe), and not
    in the past when a recurring task was completed late."""
    local = (due_at or now).astimezone(tz)
    wall, day = local.timetz().replace(tzinfo=None), local.date()
    today = now.astimezone(tz).date()
    while True:
        day = _step(day, rule)
        candidate = local_midnight(day, tz) if all_day else combine(day, wall, tz)
        if (all_day and day >= today) or (not all_day and candidate > now):
            return candidate


def remind_moment(due_at: datetime | None, all_day: bool, minutes_before: int | None, tz):
    """When to remind: the due time (09:00 local for all-day tasks) minus the lead time."""
    if due_at is None or minutes_before is None:
        return None
    base = due_at
    if all_day:
        base = combine(due_at.astimezone(tz).date(), time(ALL_DAY_REMIND_HOUR), tz)
    return base - timedelta(minutes=minutes_before)
