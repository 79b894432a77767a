"""Custom fields in lists: filters, sorts with keyset paging, columns, export order.

Promise: every list of contacts, companies or deals reads its custom filters, sort and columns
from the URL the same way (`cf_<key>`, `cf_<key>__<op>`, `sort=cf_<key>` / `-cf_<key>`,
`cols=a,b`), turns them into WHERE clauses (where()/filtered()) and a keyset-paged sort
(page()/sorted_rows(), paging's cursor format) that use the value indexes, and its CSV export
gets the same order in one query (export_order()) and the same cells (export_cell()).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, exists, func, literal, select
from sqlalchemy.orm import aliased

from crm.extensions import db
from crm.kernel import paging
from crm.kernel.custom_fields.definitions import (
    OPERATORS,
    SORTABLE,
    TEXT_TYPES,
    fields_for,
    operand,
    raw_for_input,
    show,
)
from crm.models import CustomField, CustomValue


@dataclass(frozen=True)
class Condition:
    """One filter of a list: field `key`, operator, the typed operand."""

    key: str
    op: str
    value: object = None


def _column(field: CustomField, table=CustomValue):
    if field.type == "long_text":
        return table.long_value
    if field.type in TEXT_TYPES:
        return table.text_value
    if field.type == "date":
        return table.date_value
    return table.number_value


def conditions_from_args(args, fields: list[CustomField]) -> list[Condition]:
    """Filters from URL arguments `cf_<key>` (equals) and `cf_<key>__<op>`; bad ones dropped."""
    by_key = {f.key: f for f in fields}
    found = []
    for name in args:
        if not name.startswith("cf_"):
            continue
        key, _, op = name[3:].partition("__")
        field = by_key.get(key)
        op = op or "eq"
        if field is None or op not in OPERATORS.get(field.type, ()):
            continue
        value = operand(field, op, args.get(name))
        if value is not None:
            found.append(Condition(key, op, value))
    return sorted(found, key=lambda c: (c.key, c.op))


def condition_args(conditions: list[Condition], fields: list[CustomField]) -> dict:
    """The URL arguments of these conditions (for links and the next page)."""
    by_key = {f.key: f for f in fields}
    args = {}
    for c in conditions:
        field = by_key.get(c.key)
        if field is None:
            continue
        name = f"cf_{c.key}" if c.op == "eq" else f"cf_{c.key}__{c.op}"
        value = c.value
        if c.op == "empty":
            value = "1" if value else "0"
        elif c.op == "any":
            value = ",".join(value)
        elif field.type == "money":
            value = f"{value / 100:.2f}"
        elif field.type == "checkbox":
            value = "yes" if value else "no"
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        args[name] = str(value.isoformat() if isinstance(value, date) else value)
    return args


def where(id_col, entity: str, fields: list[CustomField], conditions: list[Condition]) -> list:
    """WHERE clauses for these conditions on a list whose record id column is `id_col`."""
    by_key = {f.key: f for f in fields if f.entity == entity}
    clauses = []
    for c in conditions:
        field = by_key.get(c.key)
        if field is None:
            continue
        col = _column(field)
        base = [CustomValue.field_id == field.id, CustomValue.record_id == id_col]
        if c.op == "empty":
            has = exists().where(*base)
            clauses.append(~has if c.value else has)
            continue
        if c.op == "eq" and field.type == "checkbox" and not c.value:
            clauses.append(~exists().where(*base, col == 1.0))
            continue
        test = {
            "eq": lambda col=col, c=c: col == c.value,
            "contains": lambda col=col, c=c: col.ilike(
                "%" + c.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
                escape="\\",
            ),
            "min": lambda col=col, c=c: col >= c.value,
            "max": lambda col=col, c=c: col <= c.value,
            "any": lambda col=col, c=c: col.in_(c.value),
        }[c.op]()
        matching = select(CustomValue.record_id).where(CustomValue.field_id == field.id, test)
        if c.op == "contains" or _at_least(matching, COMMON_MATCHES):
            # Many matches: probe each record the list walks in its sort order (a page
            # fills after a few hundred probes); reading every match first costs more.
            clauses.append(exists().where(*base, test))
        else:
            # Few matches: read them from the value index, then sort that handful.
            clauses.append(id_col.in_(matching))
    return clauses


# A filter matched by at least this many values is common (see where()).
COMMON_MATCHES = 2000


def _at_least(stmt, n: int) -> bool:
    """Whether `stmt` has n rows or more, reading at most n of them."""
    return db.session.scalar(select(func.count()).select_from(stmt.limit(n).subquery())) >= n


@dataclass(frozen=True)
class Sort:
    """A list sorted by a custom field: the joined value column, its Python type, direction."""

    field: CustomField
    desc: bool

    @property
    def kind(self) -> type:
        if self.field.type == "date":
            return date
        if self.field.type in TEXT_TYPES:
            return str
        return float


def sort_for(name: str, fields: list[CustomField]) -> Sort | None:
    """`cf_<key>` (ascending) or `-cf_<key>` (descending) on a sortable field, else None."""
    desc = name.startswith("-")
    key = name.lstrip("-")
    if not key.startswith("cf_"):
        return None
    for field in fields:
        if field.key == key[3:] and field.type in SORTABLE:
            return Sort(field, desc)
    return None


def export_order(stmt, id_col, sort: Sort):
    """`stmt` in the list's order by a custom field (records without a value last): one
    query for an export, which reads every row anyway."""
    value = aliased(CustomValue)
    col = _column(sort.field, value)
    stmt = stmt.outerjoin(value, and_(value.field_id == sort.field.id, value.record_id == id_col))
    if sort.desc:
        return stmt.order_by(col.desc().nulls_last(), id_col.desc())
    return stmt.order_by(col.asc().nulls_last(), id_col)


def sorted_rows(stmt, id_col, sort: Sort, cursor: str | None, limit: int, options=()) -> list:
    """Up to `limit` rows (record, value) of `stmt` sorted by the field's value, records without
    a value last (by id), starting after the cursor (paging.encode(value, id)).

    Two plain queries instead of one LEFT JOIN: an outer join makes the database walk every
    record and sort; an inner join ordered like the (field_id, value, record_id) index walks
    that index and stops at the page's end (measured: bench/custom_fields_bench.py). The
    records without a value are read only when the valued ones run out.
    """
    value = aliased(CustomValue)
    col = _column(sort.field, value)
    position = paging.decode(cursor, sort.kind, int)
    rows: list = []
    if position is None or position[0] is not None:
        valued = stmt.join(
            value, and_(value.field_id == sort.field.id, value.record_id == id_col)
        ).add_columns(col)
        if position is not None:
            valued = valued.where(
                paging.after(col, value.record_id, position[0], position[1], desc=sort.desc)
            )
        if sort.desc:
            valued = valued.order_by(col.desc(), value.record_id.desc())
        else:
            valued = valued.order_by(col, value.record_id)
        rows = list(db.session.execute(valued.limit(limit).options(*options)).all())
        if len(rows) >= limit:
            return rows
    empty = stmt.where(
        ~exists().where(CustomValue.field_id == sort.field.id, CustomValue.record_id == id_col)
    ).add_columns(literal(None))
    if position is not None and position[0] is None:
        empty = empty.where(id_col < position[1] if sort.desc else id_col > position[1])
    empty = empty.order_by(id_col.desc() if sort.desc else id_col)
    more = db.session.execute(empty.limit(limit - len(rows)).options(*options)).all()
    return rows + list(more)


# --- one list's URL, filters, sort, page and export ---------------------------------------------

MAX_COLUMNS = 12


def custom_args(args) -> tuple[tuple[str, str], ...]:
    """The custom filter arguments of a URL (`cf_<key>`, `cf_<key>__<op>`), non-empty, in a
    stable order: a list's filters object keeps them as they are (links, the next page, saved
    views) and filtered() reads them against the team's fields."""
    return tuple(
        sorted(
            (k, str(args.get(k))[:100])
            for k in args
            if k.startswith("cf_") and str(args.get(k) or "").strip()
        )
    )


def column_keys(args) -> tuple[str, ...]:
    """cols=a,b or a form's cols=a&cols=b: the custom columns to show, in order."""
    given = args.getlist("cols") if hasattr(args, "getlist") else [args.get("cols") or ""]
    keys = [k.strip() for part in given for k in str(part).split(",") if k.strip()]
    return tuple(dict.fromkeys(keys))[:MAX_COLUMNS]


def is_sort(name: str | None) -> bool:
    """Whether a list's `sort` argument names a custom field (checked later by sort_of())."""
    return bool(name) and name.lstrip("-").startswith("cf_")


def sort_choices(fields: list[CustomField]) -> list[tuple[str, str]]:
    """A list's sort menu entries for its sortable custom fields, both directions."""
    return [
        (f"{direction}cf_{f.key}", f"{f.label} {label}")
        for f in fields
        if f.type in SORTABLE
        for direction, label in (("", "(ascending)"), ("-", "(descending)"))
    ]


def filtered(stmt, team_id: int, entity: str, id_col, custom) -> object:
    """`stmt` narrowed by a list's custom filter arguments (see custom_args())."""
    if not custom:
        return stmt
    defined = fields_for(team_id, entity)
    conditions = conditions_from_args(dict(custom), defined)
    return stmt.where(*where(id_col, entity, defined, conditions))


def sort_of(team_id: int, entity: str, name: str | None) -> Sort | None:
    """The custom field a list is sorted by (`cf_<key>` / `-cf_<key>`), or None."""
    if not is_sort(name):
        return None
    return sort_for(name, fields_for(team_id, entity))


def page(stmt, id_col, sort: Sort, cursor: str | None, limit: int, options=()) -> paging.Page:
    """A page of records sorted by a custom field's value (empty values last), keyset-paged on
    (value, id) with paging's cursor; a cursor of another sort shows the first page."""
    rows = sorted_rows(stmt, id_col, sort, cursor, limit + 1, options)
    found = paging.take(rows, limit, lambda row: paging.encode(row[1], row[0].id))
    return paging.Page([row[0] for row in found.items], found.next_cursor)


def export_cell(field: CustomField, value) -> str:
    """A custom value in a CSV cell as the import reads it back (options and members by name,
    dates ISO, amounts plain)."""
    if value is None or value == []:
        return ""
    if field.type in ("select", "multi_select", "checkbox", "member"):
        return show(field, value)
    return raw_for_input(field, value)
