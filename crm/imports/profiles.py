"""Which product an import file comes from: detect() names the product a header row comes
from and maps its columns through that product's table (`export_columns`, data only); columns
the table does not know fall back to the header-word guess of `columns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crm.imports import columns
from crm.imports.export_columns import (
    COMPANY_PRODUCTS,
    GOOGLE_NUMBERED,
    NOTE_PRODUCTS,
    NUMBERED,
    PRODUCTS,
)

MIN_KNOWN = 3  # columns a product must recognise …
MIN_SHARE = 0.6  # … and the share of the file's named columns, to be named as its source


# --- The matcher ------------------------------------------------------------------------------

key = columns.header_key
_TABLES = {
    kind: {
        product: {key(name): target for name, target in table.items()}
        for product, table in products.items()
    }
    for kind, products in (
        ("contacts", PRODUCTS),
        ("companies", COMPANY_PRODUCTS),
        ("notes", NOTE_PRODUCTS),
    )
}
_MISSING = object()


@dataclass
class Detection:
    product: str | None  # "HubSpot", or None when no product's columns fit
    mapping: dict[str, str] = field(default_factory=dict)  # {column index: field}


def _lookup(tables: dict, product: str, header_key: str, keys: list[str]):
    """The target of one column in a product's table, or _MISSING when it does not know it.
    A "type_of:<header>" target becomes "type_of:<index of that column>"."""
    target = tables[product].get(header_key, _MISSING)
    if target is _MISSING and product == "Google Contacts":
        target = _google_numbered(header_key, keys)
    if isinstance(target, str) and target.startswith("type_of:"):
        value_key = key(target.removeprefix("type_of:"))
        target = f"type_of:{keys.index(value_key)}" if value_key in keys else None
    return target


def _google_numbered(header_key: str, keys: list[str]):
    match = NUMBERED.match(header_key)
    if not match:
        return _MISSING
    kind, number, part = match.groups()
    if kind in ("email", "phone") and part in ("type", "label"):
        value_key = f"{kind} {number} value"
        return f"type_of:{value_key}" if value_key in keys else None
    target = GOOGLE_NUMBERED.get((kind, part))
    if target is None or (number != "1" and target not in columns.MULTI):
        return None
    return target


def detect(header: list[str], kind: str = "contacts") -> Detection:
    """The product whose export this header row is, and the mapping of its columns.

    A product is named when it knows at least MIN_KNOWN columns and MIN_SHARE of the named
    ones; the one that knows most wins. Its known columns take their field (each single field
    once; emails and phones as often as they come); the others, and every column when no
    product fits, are guessed from their words by `columns.guess_mapping`.
    """
    tables = _TABLES[kind]
    keys = [key(name) for name in header]
    named = [k for k in keys if k]
    best, best_known = None, 0
    for product in tables:
        known = sum(1 for k in named if _lookup(tables, product, k, keys) is not _MISSING)
        if known > best_known and known >= MIN_KNOWN and known >= MIN_SHARE * len(named):
            best, best_known = product, known
    if best is None:
        return Detection(None, columns.guess_mapping(header, kind))
    mapping: dict[str, str] = {}
    used: set[str] = set()
    unknown: list[int] = []
    for index, header_key in enumerate(keys):
        target = _lookup(tables, best, header_key, keys) if header_key else _MISSING
        if target is _MISSING:
            unknown.append(index)
        elif target and (target not in used or target in columns.MULTI):
            mapping[str(index)] = target
            used.add(target)
    guessed = columns.guess_mapping(
        [header[i] if i in unknown else "" for i in range(len(keys))], kind
    )
    for index, target in guessed.items():
        if target not in used:
            mapping[index] = target
            used.add(target)
    return Detection(best, dict(sorted(mapping.items(), key=lambda item: int(item[0]))))
