"""Reading CSV files the way spreadsheets write them: any common encoding, any delimiter."""

from __future__ import annotations

import csv
import io
import re

DELIMITERS = ",;\t|"
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")

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


class Unreadable(ValueError):
    """The upload is not a CSV file we can read; the message is safe to show."""


def decode(raw: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: UTF-8 (with or without BOM), else Windows-1252.

    Windows-1252 is what Excel writes on most Western machines; it is a superset of Latin-1's
    printable range, and Latin-1 catches the five bytes cp1252 leaves undefined.
    """
    if b"\x00" in raw[:4096]:
        raise Unreadable("That file looks binary (or UTF-16). Save it as CSV (UTF-8) and retry.")
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, "utf-8" if encoding == "utf-8-sig" else encoding
    raise Unreadable("The file's text encoding is unknown.")  # pragma: no cover (latin-1)


def sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = next((line for line in text.splitlines() if line.strip()), "")
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def rows(text: str, delimiter: str):
    """(row_number, cells) for every non-blank record; row 1 is the header line's record.

    Quoted newlines stay inside their cell; blank lines are skipped but still counted, so the
    numbers match what a spreadsheet shows.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for number, cells in enumerate(reader, start=1):
        if any(cell.strip() for cell in cells):
            yield number, cells


def read(text: str, delimiter: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data rows."""
    records = rows(text, delimiter)
    header_row = next(records, None)
    if header_row is None:
        raise Unreadable("The file is empty.")
    return [h.strip() for h in header_row[1]], list(records)


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


def safe_cell(value: object) -> str:
    """A cell a spreadsheet will show as text, never run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    if text and (text[0] in "=+-@\t\r" or text.lstrip()[:1] in ("=", "+", "-", "@")):
        return "'" + text
    return text
