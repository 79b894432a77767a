"""Dates and time zones: the database holds UTC; people read and type their own zone's time.

Promise: zone() turns any stored zone name into a ZoneInfo, falling back to UTC for a blank or
unknown one (never an error on a page). user_zone() is the logged-in person's zone. to_utc()
makes any datetime aware UTC (a naive one is read in `assume`); from_local() reads a wall-clock
time typed in a form in the person's zone. local_midnight()/combine()/day_bounds() answer "which
UTC moments make up this local day". The one template filter, `local_dt` (and `local_day`),
shows a stored UTC moment in the viewer's zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, has_request_context
from flask_login import current_user

DEFAULT_FORMAT = "%b %-d, %Y %H:%M"


def zone(name: str | None) -> ZoneInfo:
    """The zone of this name; UTC when the name is blank or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, KeyError):
        return ZoneInfo("UTC")


def user_zone(user=None) -> ZoneInfo:
    """A user's zone (default: whoever is logged in; UTC for nobody)."""
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    return zone(getattr(user, "timezone", None))


def to_utc(value: datetime, assume: tzinfo = UTC) -> datetime | None:
    """Aware UTC datetime; naive values are taken to be in `assume` (None if out of range)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=assume)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def from_local(value: datetime | None, tz: tzinfo | None = None) -> datetime | None:
    """A wall-clock time someone typed (naive, in their zone) as a UTC moment."""
    if value is None:
        return None
    return value.replace(tzinfo=tz or user_zone()).astimezone(UTC)


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The UTC moment a local day starts."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def combine(day: date, at: time | None, tz: tzinfo) -> datetime:
    """A local date (and optional wall-clock time) as a UTC moment."""
    return datetime.combine(day, at or time(0), tzinfo=tz).astimezone(UTC)


def day_bounds(now: datetime, tz: tzinfo) -> tuple[date, datetime, datetime]:
    """Today's local date and the UTC moments it starts and ends."""
    today = now.astimezone(tz).date()
    return today, local_midnight(today, tz), local_midnight(today + timedelta(days=1), tz)


def local_dt(value: datetime | None, fmt: str = DEFAULT_FORMAT) -> str:
    """A stored UTC moment as the viewer reads it (template filter `local_dt`)."""
    if value is None:
        return ""
    return value.astimezone(user_zone()).strftime(fmt)


def local_day(value: datetime) -> str:
    """The viewer's local date of a moment, ISO (template filter `local_day`)."""
    return value.astimezone(user_zone()).date().isoformat()


def init_app(app: Flask) -> None:
    app.add_template_filter(local_dt, "local_dt")
    app.add_template_filter(local_day, "local_day")


def add_business_days(when: datetime, days: int) -> datetime:
    """`days` weekdays (Monday–Friday) after `when`, at the same time of day; 0 is `when`.
    Sequences wait this way; holidays are not known."""
    result = when
    remaining = max(int(days), 0)
    while remaining:
        result += timedelta(days=1)
        if result.weekday() < 5:
            remaining -= 1
    return result
