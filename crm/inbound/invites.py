"""Meeting invitations (text/calendar parts) read with `icalendar`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import icalendar

from crm.inbound.mailtypes import Address, CalendarInvite
from crm.kernel.dates import to_utc


def parse_invite(text: str) -> CalendarInvite | None:
    """The first event of an iCalendar document, or None if there is none or it is broken."""
    try:
        calendar = icalendar.Calendar.from_ical(text)
        event = next(iter(calendar.walk("VEVENT")), None)
        if event is None:
            return None
        method = calendar.get("METHOD")
        start = _utc(event.get("DTSTART"))
        return CalendarInvite(
            uid=_text(event.get("UID")) or None,
            summary=_text(event.get("SUMMARY")),
            start=start,
            end=_end(event, start),
            location=_text(event.get("LOCATION")),
            organizer=_address(event.get("ORGANIZER")),
            attendees=_attendees(event.get("ATTENDEE")),
            method=_text(method).upper() or None,
        )
    # icalendar raises a wide variety of errors on malformed input; a broken invite
    # must not cost us the rest of the mail.
    except Exception:  # noqa: BLE001
        return None


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _utc(prop: Any) -> datetime | None:
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        return to_utc(value)  # floating times are taken as UTC
    if isinstance(value, date):  # all-day events start at midnight
        return datetime.combine(value, time(), tzinfo=UTC)
    return None


def _end(event: Any, start: datetime | None) -> datetime | None:
    end = _utc(event.get("DTEND"))
    duration = getattr(event.get("DURATION"), "dt", None)
    if end is None and start is not None and isinstance(duration, timedelta):
        return start + duration
    return end


def _address(value: Any) -> Address | None:
    if value is None:
        return None
    email = str(value).strip()
    if email.lower().startswith("mailto:"):
        email = email[len("mailto:") :]
    if "@" not in email:
        return None
    params = getattr(value, "params", {})
    return Address(str(params.get("CN", "")), email)


def _attendees(value: Any) -> list[Address]:
    values = value if isinstance(value, list) else [value]
    return [address for address in map(_address, values) if address is not None]
