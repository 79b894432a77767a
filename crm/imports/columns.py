"""The contact fields an import's columns can be mapped to, and the guess from the header row.

Reading the file itself (encodings, delimiter) is crm.kernel.csvio's."""

from __future__ import annotations

import re

# Contact fields a column can be mapped to, with the header words that suggest them.
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "first_name": ("First name", ("first name", "firstname", "first", "given name", "prénom")),
    "last_name": ("Last name", ("last name", "lastname", "last", "surname", "family name", "nom")),
    "full_name": ("Full name", ("name", "full name", "contact", "contact name")),
    "email": ("Email", ("email", "e-mail", "email address", "mail", "work email")),
    "email2": ("Second email", ("email 2", "other email", "personal email", "home email")),
    "phone": ("Phone", ("phone", "telephone", "tel", "phone number", "work phone")),
    "phone2": ("Second phone", ("mobile", "cell", "mobile phone", "phone 2", "other phone")),
    "title": ("Title", ("title", "job title", "position", "role")),
    "company": ("Company", ("company", "organization", "organisation", "account", "employer")),
    "website": ("Website", ("website", "web", "url", "homepage")),
    "linkedin": ("LinkedIn", ("linkedin", "linkedin url")),
    "tags": ("Tags (comma separated)", ("tags", "labels", "groups")),
    "lifecycle": ("Lifecycle stage", ("lifecycle", "stage", "status", "lifecycle stage")),
    "source": ("Source", ("source", "lead source")),
    "street": ("Street", ("street", "address", "street address", "address 1")),
    "city": ("City", ("city", "town")),
    "region": ("Region / state", ("region", "state", "province", "county")),
    "postal_code": ("Postal code", ("postal code", "zip", "zip code", "postcode")),
    "country": ("Country", ("country",)),
    "notes": ("Notes", ("notes", "note", "comments", "description")),
}


def _key(header: str) -> str:
    return re.sub(r"[^a-zà-ÿ0-9]+", " ", header.lower().replace("-", "")).strip()


def guess_mapping(header: list[str]) -> dict[str, str]:
    """{column index (as str): field} from the header words; each field used once."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, name in enumerate(header):
        key = _key(name)
        for field, (_, words) in FIELDS.items():
            if field not in used and key in words:
                mapping[str(index)] = field
                used.add(field)
                break
    return mapping
