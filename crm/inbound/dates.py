"""Dates from headers and from the human-formatted lines of forwarded blocks."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime

from dateutil import parser as dateutil_parser

from crm.kernel.dates import to_utc


def _fixed(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


# Abbreviations clients print in forwarded headers. Ambiguous ones (IST, CST in
# China) are left out on purpose: no offset is better than a wrong one.
_ABBREVIATIONS: dict[str, tzinfo] = {
    "UTC": UTC,
    "GMT": UTC,
    "Z": UTC,
    "EST": _fixed(-5),
    "EDT": _fixed(-4),
    "CST": _fixed(-6),
    "CDT": _fixed(-5),
    "MST": _fixed(-7),
    "MDT": _fixed(-6),
    "PST": _fixed(-8),
    "PDT": _fixed(-7),
    "CET": _fixed(1),
    "CEST": _fixed(2),
    "BST": _fixed(1),
    "EET": _fixed(2),
    "EEST": _fixed(3),
}
# "GMT+1" means UTC+1 in every mail client, but dateutil reads it POSIX-style
# (as UTC-1), so it is rewritten to a plain numeric offset first.
_GMT_OFFSET = re.compile(r"\(?\b(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d{2}))?\)?", re.IGNORECASE)
_HAS_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_TWELVE_HOUR = re.compile(r"\d\s*[AaPp]\.?[Mm]\b\.?")
_DOTTED_DATE = re.compile(r"\b\d{1,2}\.\d{1,2}\.\d{2,4}\b")
# Real dates, even "Wednesday, September 27, 2024 at 11:58:32 AM GMT+02:00", are
# far shorter; anything longer is junk not worth handing to dateutil.
_MAX_DATE_LENGTH = 200
# Missing fields must not silently borrow today's date.
_NO_DEFAULTS = datetime(2000, 1, 1)


def parse_date(value: str | None, assume: tzinfo = UTC) -> datetime | None:
    """Parse an RFC 5322 date, or failing that a client's human-readable one."""
    if not value or not value.strip() or len(value) > _MAX_DATE_LENGTH:
        return None
    text = _GMT_OFFSET.sub(_numeric_offset, value.strip())
    # The RFC parser is lenient enough to accept "January 8, 2024 4:47 PM" while
    # silently dropping the PM, so 12-hour times go to the human-format parser.
    if _TWELVE_HOUR.search(text):
        parsed = _parse_human(text)
    else:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = _parse_human(text)
    return None if parsed is None else to_utc(parsed, assume)


def _parse_human(value: str) -> datetime | None:
    """ "Mon, Jan 8, 2024 at 10:15 AM", "8 January 2024 at 10:15:32 GMT+1", …"""
    if not _HAS_YEAR.search(value):
        return None
    # Dotted numeric dates ("08.01.2024") are day-first wherever they are written.
    dayfirst = _DOTTED_DATE.search(value) is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UnknownTimezoneWarning: we just get a naive value
        try:
            return dateutil_parser.parse(
                value, default=_NO_DEFAULTS, tzinfos=_ABBREVIATIONS, dayfirst=dayfirst
            )
        except (ValueError, OverflowError, TypeError):
            return None


def _numeric_offset(match: re.Match[str]) -> str:
    sign, hours, minutes = match.groups()
    return f" {sign}{int(hours):02d}{minutes or '00'}"


def source_timezone(value: str | None) -> tzinfo:
    """The offset a Date header was written in, so naive times near it can use it."""
    try:
        parsed = parsedate_to_datetime((value or "").strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return UTC
    return parsed.tzinfo or UTC
