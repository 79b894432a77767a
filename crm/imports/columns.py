"""The contact fields an import's columns can be mapped to, and the guess from the header row.

Reading the file itself (encodings, delimiter) is crm.kernel.csvio's; the column names of known
products' exports are in `export_columns`.
"""

from __future__ import annotations

import hashlib
import re

# Contact fields a column can be mapped to, with the header words that suggest them.
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "first_name": ("First name", ("first name", "firstname", "first", "given name", "prénom")),
    "last_name": ("Last name", ("last name", "lastname", "last", "surname", "family name", "nom")),
    "full_name": ("Full name", ("name", "full name", "contact", "contact name")),
    "email": ("Email", ("email", "e-mail", "email address", "mail", "work email")),
    "email2": ("Second email", ("email 2", "other email", "secondary email")),
    "email_home": ("Personal email", ("personal email", "home email", "private email")),
    "phone": ("Phone", ("phone", "telephone", "tel", "phone number", "work phone")),
    "phone2": ("Mobile phone", ("mobile", "cell", "mobile phone", "phone 2", "cell phone")),
    "phone_home": ("Home phone", ("home phone", "private phone")),
    "phone_other": ("Other phone", ("other phone", "phone 3")),
    "title": ("Title", ("title", "job title", "position", "role")),
    "company": ("Company", ("company", "organization", "organisation", "account", "employer")),
    "owner": ("Owner (a member, by email or name)", ("owner", "contact owner", "assigned to")),
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
    "external_id": ("Its id in the other product", ("record id", "contact id", "external id")),
    "company_external_id": ("Its company's id in the other product", ("account id",)),
}
# Company fields (an import of companies, organizations or accounts).
COMPANY_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("Name", ("name", "company", "company name", "organization", "account name")),
    "domain": ("Domain", ("domain", "company domain", "company domain name")),
    "website": ("Website", ("website", "web", "url", "homepage")),
    "phone": ("Phone", ("phone", "telephone", "phone number")),
    "industry": ("Industry", ("industry", "sector")),
    "size": ("Size (employees)", ("size", "employees", "number of employees")),
    "owner": ("Owner (a member, by email or name)", ("owner", "company owner", "account owner")),
    "street": ("Street", ("street", "address", "street address")),
    "city": ("City", ("city", "town")),
    "region": ("Region / state", ("region", "state", "province", "county")),
    "postal_code": ("Postal code", ("postal code", "zip", "zip code", "postcode")),
    "country": ("Country", ("country",)),
    "external_id": ("Its id in the other product", ("record id", "id", "external id")),
}
# Notes (past notes and activities), linked to a contact and/or a company already in Rapport.
NOTE_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "body": ("Note text", ("note", "notes", "content", "body", "note body", "text")),
    "subject": ("Subject", ("subject", "title")),
    "occurred_at": ("Date", ("date", "created", "created at", "activity date", "add time")),
    "contact_email": ("Contact's email", ("email", "contact email", "person email")),
    "contact_name": ("Contact's name", ("contact", "person", "contact name", "person name")),
    "contact_external_id": ("Contact's id in the other product", ("contact id", "person id")),
    "company": ("Company", ("company", "organization", "organisation", "account")),
    "company_external_id": ("Company's id in the other product", ("company id", "account id")),
    "author": ("Written by (a member, by email or name)", ("author", "user", "created by")),
}
KINDS = {"contacts": FIELDS, "companies": COMPANY_FIELDS, "notes": NOTE_FIELDS}
# Fields a file may fill from several columns (Google's "Phone 1 - Value", "Phone 2 - Value"):
# each is (kind, label the value gets unless its type column says otherwise).
MULTI: dict[str, tuple[str, str]] = {
    "email": ("email", "work"),
    "email2": ("email", "other"),
    "email_home": ("email", "personal"),
    "phone": ("phone", "work"),
    "phone2": ("phone", "mobile"),
    "phone_home": ("phone", "home"),
    "phone_other": ("phone", "other"),
}
# "type_of:<column index>": this column holds the type (label) of that email or phone column.
TYPE_OF = re.compile(r"^type_of:(\d+)$")
# The words products write in a type column, as Rapport's labels.
LABELS = {
    "email": {"work": "work", "business": "work", "home": "personal", "personal": "personal"},
    "phone": {
        "mobile": "mobile",
        "cell": "mobile",
        "iphone": "mobile",
        "work": "work",
        "business": "work",
        "main": "work",
        "home": "home",
    },
}


def header_key(header: str) -> str:
    """A header as the matchers compare it: lower case, words only ("E-mail 1 - Value" →
    "email 1 value"); letters of any script are kept."""
    text = (header or "").lower().replace("-", "")
    return re.sub(r"[\W_]+", " ", text).strip()


_key = header_key


def label(kind: str, given: str | None, default: str) -> str:
    """Rapport's label for a type column's text ("* Mobile", "WORK", "Other") ."""
    words = re.findall(r"\w+", (given or "").lower())
    for word in words:
        if word in LABELS[kind]:
            return LABELS[kind][word]
    return "other" if words else default


def fingerprint(header: list[str], kind: str = "contacts") -> str:
    """The same for two files of one kind with the same columns in the same order (case and
    punctuation aside): the key a team's remembered mapping is kept under."""
    text = "\x1f".join([kind] + [header_key(h) for h in header])
    return hashlib.sha256(text.encode()).hexdigest()


def guess_mapping(header: list[str], kind: str = "contacts") -> dict[str, str]:
    """{column index (as str): field} from the header words; each field used once."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, name in enumerate(header):
        key = _key(name)
        for field, (_, words) in KINDS[kind].items():
            if field not in used and key in words:
                mapping[str(index)] = field
                used.add(field)
                break
    return mapping
