"""Normalizing what people type: emails, phone numbers, names, domains, websites.

Promise: one stored spelling per value, whoever typed it (a form, the CSV import, email-in,
duplicate detection): emails lower-cased and validated, phones in E.164 (read in the team's
region when they have no country code), domains without "www.". A value that cannot be read
raises BadValue with a message safe to show; format_phone() is how a stored number is shown.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email


class BadValue(ValueError):
    """A value that cannot be normalized; the message is safe to show to the user."""


def email(value: str) -> str:
    """A valid address, lower-cased (matching is case-insensitive throughout Rapport)."""
    value = (value or "").strip()
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise BadValue(f"{value!r} is not a valid email address: {error}") from None


def phone(value: str, region: str = "US") -> str:
    """E.164 (+15551234567). A number without a country code is read in `region`."""
    raw = (value or "").strip()
    try:
        number = phonenumbers.parse(raw, None if raw.startswith("+") else region)
    except phonenumbers.NumberParseException:
        raise BadValue(f"{raw!r} is not a phone number.") from None
    if not phonenumbers.is_possible_number(number):
        raise BadValue(f"{raw!r} is not a possible phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def format_phone(e164: str) -> str:
    """For display: national format at home, international elsewhere.

    Cached: a list page formats dozens of numbers, and parsing one costs ~40 µs."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def sort_name(first: str | None, last: str | None) -> str:
    return f"{(first or '').strip()} {(last or '').strip()}".strip().lower()


def domain(value: str | None) -> str | None:
    """example.com from 'https://www.Example.com/about', 'www.example.com' or 'example.com'."""
    value = (value or "").strip().lower()
    if not value:
        return None
    host = urlsplit(value if "//" in value else f"//{value}").hostname or ""
    host = host.removeprefix("www.")
    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", host):
        raise BadValue(f"{value!r} is not a domain name.")
    return host


def website(value: str | None) -> str | None:
    """A URL with a scheme; only http(s), so a link can never run script, and no whitespace
    or control character inside (a line break would end the line of a vCard or a header)."""
    value = (value or "").strip()
    if not value:
        return None
    if re.search(r"[\s\x00-\x1f\x7f]", value):
        raise BadValue(f"{value!r} is not a web address.")
    scheme = re.match(r"^([a-z][a-z0-9+-]*):", value, re.IGNORECASE)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise BadValue(f"{value!r} is not a web address.")
    if "://" not in value:
        value = f"https://{value}"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or "." not in (parts.hostname or ""):
        raise BadValue(f"{value!r} is not a web address.")
    return value
