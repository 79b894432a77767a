"""Bucketing moments into local months and weeks, in SQL, on SQLite and PostgreSQL alike.

Moments are stored as naive UTC; a fixed offset (the viewer's zone at the period's start)
turns them into local time before bucketing. Keys come back as text: "2026-11" for a month,
"2026-11-23" (a Monday) for a week.
"""

from __future__ import annotations

from sqlalchemy import func, literal_column, text

from crm.extensions import db


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _shifted_pg(column, minutes: int):
    return column + text(f"interval '{int(minutes)} minutes'")


def month_of(column, minutes: int = 0, *, is_date: bool = False):
    if _dialect() == "postgresql":
        value = column if is_date else _shifted_pg(column, minutes)
        return func.to_char(value, literal_column("'YYYY-MM'"))
    if is_date:
        return func.strftime("%Y-%m", column)
    return func.strftime("%Y-%m", column, f"{int(minutes):+d} minutes")


def week_of(column, minutes: int = 0):
    if _dialect() == "postgresql":
        return func.to_char(
            func.date_trunc("week", _shifted_pg(column, minutes)), literal_column("'YYYY-MM-DD'")
        )
    return func.date(column, f"{int(minutes):+d} minutes", "weekday 0", "-6 days")


def days_between(start, end):
    """(end - start) in days, as a float."""
    if _dialect() == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)
