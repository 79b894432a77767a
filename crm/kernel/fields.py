"""What people may type into a contact's or a company's fields: one limit per field, one rule.

Promise: CONTACT_LIMITS and COMPANY_LIMITS are the only place a field's longest value is
written; the forms (Length validators), the services (clean_text) and the CSV import all read
them, so a value the form accepts is never refused by the service or the import, or the other
way round. clean_text() trims a value and refuses an over-long one with an error on its field.
phone_region() is the country a phone number without a country code is read in (a team's default
country, chosen from countries(), guessed at sign-up by region_from_locale()). CURRENCIES are
the currencies a team or a deal may be kept in.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from flask import current_app, has_app_context
from phonenumbers import geocoder

from crm.errors import Invalid

# ISO 4217 codes offered for a team's default currency and a deal's value.
CURRENCIES = [
    "USD",
    "EUR",
    "GBP",
    "CAD",
    "AUD",
    "CHF",
    "JPY",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "INR",
    "BRL",
    "MXN",
    "ZAR",
    "NZD",
    "SGD",
    "HKD",
]
ADDRESS_LIMITS = {"street": 200, "city": 100, "region": 100, "postal_code": 20, "country": 100}
CONTACT_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "title": 150,
    "source": 100,
    **ADDRESS_LIMITS,
    "notes": 20_000,
    "company_name": 200,
    "email": 254,
    "phone": 40,
    "website": 300,
    "social": 300,
    "tags": 500,
}
COMPANY_LIMITS = {
    "name": 200,
    "domain": 253,
    "website": 300,
    "industry": 100,
    "size": 20,
    "phone": 40,
    "tags": 500,
    **ADDRESS_LIMITS,
}


def clean_text(value, max_len: int, field: str) -> str | None:
    """The trimmed text (None for blank); longer than max_len is an Invalid on `field`."""
    value = (str(value) if value is not None else "").strip()
    if len(value) > max_len:
        raise Invalid(f"Keep this under {max_len} characters.", field=field)
    return value or None


def phone_region(team=None) -> str:
    """Where a phone number typed without a country code is read: the team's default country
    when it has one (settings), else PHONE_REGION (default US)."""
    if team is not None and getattr(team, "default_country", None):
        return team.default_country
    return current_app.config.get("PHONE_REGION", "US") if has_app_context() else "US"


@lru_cache(maxsize=1)
def countries() -> list[tuple[str, str]]:
    """(region code, English name) of every country phone numbers can be read in, by name."""
    names = {}
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number(region)
        name = geocoder.country_name_for_number(example, "en") if example else ""
        names[region] = name or region
    return sorted(names.items(), key=lambda item: item[1])


def region_from_locale(languages) -> str | None:
    """The country of a browser's preferred locale ("en-GB" → "GB"), when it names one.

    `languages`: language tags, most preferred first (e.g. request.accept_languages.values()).
    """
    for tag in languages or ():
        parts = str(tag).replace("_", "-").split("-")
        for part in parts[1:]:
            if len(part) == 2 and part.upper() in phonenumbers.SUPPORTED_REGIONS:
                return part.upper()
    return None
