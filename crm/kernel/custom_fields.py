"""Custom field values: one parse, one display, one storage, one filter and sort rule.

Promise: parse(field, raw) turns what a person (a form, a CSV cell, an automation rule) gives
into the field's stored value or raises Invalid on `cf_<key>`; show() renders a stored value as
people read it; read()/write() move values between records and typed value rows (write() adds
the audit entry and the timeline line; the caller commits); where()/order() are the list
filter and sort clauses every list (and so its CSV export) uses; matches() is the condition
evaluator automation rules call.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import and_, delete, exists, func, literal, select
from sqlalchemy.orm import aliased

from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import audit, events, normalize, paging
from crm.kernel import members as team_members
from crm.kernel.fields import phone_region
from crm.kernel.ids import parse_id
from crm.kernel.timeline import record as timeline_record
from crm.models import ActivityKind, CustomField, CustomValue, utcnow

TEXT_MAX = 500
LONG_MAX = 10_000
TEXT_TYPES = ("text", "url", "email", "phone", "select", "multi_select")
NUMBER_TYPES = ("number", "money", "checkbox", "member")
SORTABLE = ("text", "url", "email", "phone", "select", "number", "money", "date", "checkbox")
# Which filter operators each type offers (the list's filter form reads this too).
OPERATORS = {
    "text": ("eq", "contains", "empty"),
    "long_text": ("contains", "empty"),
    "url": ("eq", "contains", "empty"),
    "email": ("eq", "contains", "empty"),
    "phone": ("eq", "contains", "empty"),
    "number": ("eq", "min", "max", "empty"),
    "money": ("eq", "min", "max", "empty"),
    "date": ("eq", "min", "max", "empty"),
    "checkbox": ("eq",),
    "select": ("eq", "any", "empty"),
    "multi_select": ("any", "empty"),
    "member": ("eq", "empty"),
}


def fields_for(
    team_id: int, entity: str, *, with_deleted: bool = False, session=None
) -> list[CustomField]:
    """The team's fields of one entity, in their order (trashed ones only if asked)."""
    stmt = select(CustomField).where(CustomField.team_id == team_id, CustomField.entity == entity)
    if not with_deleted:
        stmt = stmt.where(CustomField.deleted_at.is_(None))
    return list(
        (session or db.session).scalars(stmt.order_by(CustomField.position, CustomField.id))
    )


def _money(raw: str, name: str) -> int:
    text = raw.replace(",", "").replace(" ", "").lstrip("$€£¥")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise Invalid(f"{raw!r} is not an amount.", field=name) from None
    if amount.as_tuple().exponent < -2:
        raise Invalid("An amount has at most two decimals.", field=name)
    return int(amount * 100)


def parse(field: CustomField, raw, *, team_id: int | None = None):
    """The stored value for what was given (None for empty); Invalid names `cf_<key>`."""
    name = f"cf_{field.key}"
    if field.type == "multi_select":
        items = raw if isinstance(raw, list | tuple) else str(raw or "").split(",")
        wanted = [str(i).strip() for i in items if str(i).strip()]
        chosen = []
        for item in wanted:
            option = _option(field, item)
            if option is None:
                raise Invalid(f"{item!r} is not an option of {field.label}.", field=name)
            if option not in chosen:
                chosen.append(option)
        if not chosen and field.required:
            raise Invalid(f"{field.label} is required.", field=name)
        return [o for o in (opt["id"] for opt in field.options) if o in chosen] or None
    if field.type == "checkbox":
        if isinstance(raw, bool):
            return raw
        text = str(raw or "").strip().lower()
        if text in ("", "0", "false", "no", "off", "n"):
            if field.required:
                raise Invalid(f"{field.label} must be ticked.", field=name)
            return False
        if text in ("1", "true", "yes", "on", "y", "x"):
            return True
        raise Invalid(f"{raw!r} is not yes or no.", field=name)
    text = "" if raw is None else str(raw).strip()
    if not text:
        if field.required:
            raise Invalid(f"{field.label} is required.", field=name)
        return None
    match field.type:
        case "text":
            if len(text) > TEXT_MAX:
                raise Invalid(f"At most {TEXT_MAX} characters.", field=name)
            return text
        case "long_text":
            if len(text) > LONG_MAX:
                raise Invalid(f"At most {LONG_MAX} characters.", field=name)
            return text
        case "number":
            try:
                number = float(Decimal(text.replace(",", "")))
            except InvalidOperation:
                raise Invalid(f"{text!r} is not a number.", field=name) from None
            return int(number) if number.is_integer() else number
        case "money":
            return _money(text, name)
        case "date":
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise Invalid(f"{text!r} is not a date (YYYY-MM-DD).", field=name) from None
        case "select":
            option = _option(field, text)
            if option is None:
                raise Invalid(f"{text!r} is not an option of {field.label}.", field=name)
            return option
        case "url":
            if not re.match(r"^(https?://)?[^\s/]+\.[^\s]+$", text, re.I):
                raise Invalid(f"{text!r} is not a web address.", field=name)
            try:
                url = normalize.website(text)
            except normalize.BadValue as error:
                raise Invalid(str(error), field=name) from None
            if not url or len(url) > TEXT_MAX:
                raise Invalid(f"{text!r} is not a web address.", field=name)
            return url
        case "email":
            try:
                return normalize.email(text)
            except normalize.BadValue as error:
                raise Invalid(str(error), field=name) from None
        case "phone":
            try:
                return normalize.phone(text, phone_region())
            except normalize.BadValue as error:
                raise Invalid(str(error), field=name) from None
        case "member":
            team = team_id if team_id is not None else field.team_id
            if parse_id(text) is None:  # a CSV cell names the member
                lowered = text.lower()
                for user in team_members.members(team):
                    if lowered in (user.name.lower(), user.email.lower()):
                        return user.id
                raise Invalid(f"{text!r} is not a member of this team.", field=name)
            user = team_members.check_member(
                team_id if team_id is not None else field.team_id,
                parse_id(text),
                field=name,
                message="Choose a member of this team.",
            )
            return user.id if user else None
    raise Invalid(f"{field.label} has an unknown type.", field=name)


def _option(field: CustomField, given: str) -> str | None:
    """An option's id from its id or its label (case-insensitive: CSV cells hold labels)."""
    for option in field.options or ():
        if option["id"] == given:
            return option["id"]
    lowered = given.strip().lower()
    for option in field.options or ():
        if option["label"].lower() == lowered:
            return option["id"]
    return None


def show(field: CustomField, value) -> str:
    """A stored value as people read it ("" for none)."""
    if field.type == "checkbox":
        return "Yes" if value else "No"
    if value is None or value == []:
        return ""
    match field.type:
        case "checkbox":
            return "Yes" if value else "No"
        case "money":
            amount = Decimal(int(value)) / 100
            return f"{field.currency or ''} {amount:,.2f}".strip()
        case "select":
            return field.option_label(value)
        case "multi_select":
            return ", ".join(field.option_label(v) for v in value)
        case "date":
            return value.isoformat()
        case "phone":
            return normalize.format_phone(value)
        case "member":
            return team_members.user_name(value) or ""
        case "number":
            return f"{value:g}" if isinstance(value, float) else str(value)
    return str(value)


def raw_for_input(field: CustomField, value) -> str:
    """A stored value as an edit input shows it (what parse() reads back)."""
    if value is None:
        return ""
    if field.type == "money":
        return f"{Decimal(int(value)) / 100:.2f}"
    if field.type == "multi_select":
        return ",".join(value)
    if field.type == "date":
        return value.isoformat()
    if field.type == "checkbox":
        return "yes" if value else ""
    return str(value)


SEARCHED = ("text", "long_text", "select", "multi_select", "url", "email", "phone")


def search_text(team_id: int, entity: str, record_ids) -> dict[int, str]:
    """{record_id: text of its text and select values} for the records' search documents."""
    defined = [f for f in fields_for(team_id, entity) if f.type in SEARCHED]
    found = read(team_id, entity, record_ids, defined)
    return {
        record_id: "\n".join(
            show(field, by_field[field.id]) for field in defined if field.id in by_field
        )
        for record_id, by_field in found.items()
    }


def _rows_to_value(field: CustomField, rows: list[CustomValue]):
    if not rows:
        return None
    if field.type == "multi_select":
        order = {o["id"]: i for i, o in enumerate(field.options or ())}
        return sorted((r.text_value for r in rows), key=lambda v: order.get(v, 1_000))
    row = rows[0]
    if field.type == "long_text":
        return row.long_value
    if field.type in TEXT_TYPES:
        return row.text_value
    if field.type == "date":
        return row.date_value
    if field.type == "checkbox":
        return bool(row.number_value)
    number = row.number_value
    if number is None:
        return None
    return int(number) if field.type in ("money", "member") or number.is_integer() else number


def read(
    team_id: int, entity: str, record_ids, fields=None, *, session=None
) -> dict[int, dict[int, object]]:
    """{record_id: {field_id: value}} for these records (one query)."""
    ids = list(record_ids)
    if not ids:
        return {}
    if fields is None:
        fields = fields_for(team_id, entity, session=session)
    fields = {f.id: f for f in fields}
    if not fields:
        return {}
    rows = (session or db.session).scalars(
        select(CustomValue).where(
            CustomValue.team_id == team_id,
            CustomValue.record_type == entity,
            CustomValue.record_id.in_(ids),
            CustomValue.field_id.in_(list(fields)),
        )
    )
    grouped: dict[tuple[int, int], list[CustomValue]] = defaultdict(list)
    for row in rows:
        grouped[(row.record_id, row.field_id)].append(row)
    result: dict[int, dict[int, object]] = defaultdict(dict)
    for (record_id, field_id), found in grouped.items():
        result[record_id][field_id] = _rows_to_value(fields[field_id], found)
    return result


def _new_rows(field: CustomField, record_type: str, record_id: int, value) -> list[CustomValue]:
    base = {
        "team_id": field.team_id,
        "field_id": field.id,
        "record_type": record_type,
        "record_id": record_id,
    }
    if value is None or value == []:
        return []
    if field.type == "multi_select":
        return [CustomValue(**base, text_value=v) for v in value]
    if field.type == "long_text":
        return [CustomValue(**base, long_value=value)]
    if field.type in TEXT_TYPES:
        return [CustomValue(**base, text_value=value)]
    if field.type == "date":
        return [CustomValue(**base, date_value=value)]
    if field.type == "checkbox":
        return [CustomValue(**base, number_value=1.0 if value else 0.0)]
    return [CustomValue(**base, number_value=float(value))]


def store(field: CustomField, record_type: str, record_id: int, value) -> None:
    """Replace the stored value rows (no audit: for imports' bulk writes and option moves)."""
    db.session.execute(
        delete(CustomValue).where(
            CustomValue.field_id == field.id, CustomValue.record_id == record_id
        )
    )
    db.session.add_all(_new_rows(field, record_type, record_id, value))


@dataclass
class Target:
    """The record a value belongs to and where its timeline line goes."""

    entity: str
    id: int
    team_id: int
    contact_ids: tuple[int, ...] = ()
    company_id: int | None = None
    deal_id: int | None = None


def target_of(record) -> Target:
    """Target for a Contact, Company or Deal."""
    entity = type(record).__tablename__
    if entity == "contact":
        return Target("contact", record.id, record.team_id, contact_ids=(record.id,))
    if entity == "company":
        return Target("company", record.id, record.team_id, company_id=record.id)
    if entity == "deal":
        return Target("deal", record.id, record.team_id, deal_id=record.id)
    raise ValueError(f"custom fields do not apply to {entity}")


def write(record, field: CustomField, raw, actor_id: int | None) -> bool:
    """Validate and store one value, with its audit entry and timeline line; False when it did
    not change. The caller commits."""
    target = target_of(record)
    if field.team_id != target.team_id or field.entity != target.entity:
        raise Invalid("That field does not belong to this record.", field=f"cf_{field.key}")
    new = parse(field, raw, team_id=target.team_id)
    old = read(target.team_id, target.entity, [target.id], [field]).get(target.id, {}).get(field.id)
    if field.type == "checkbox":
        old = bool(old)
    if old == new:
        return False
    store(field, target.entity, target.id, new)
    # The record changed too: its search document is rebuilt after commit (search hooks).
    record.updated_at = utcnow()
    changes = {field.label: [audit.show(show(field, old)), audit.show(show(field, new))]}
    audit.write(
        team_id=target.team_id,
        actor_id=actor_id,
        entity_type=target.entity,
        entity_id=target.id,
        action="update",
        changes=changes,
        timeline=target.entity != "deal",
        contact_ids=target.contact_ids,
        company_id=target.company_id,
    )
    events.changed(
        target.entity,
        team_id=target.team_id,
        record_id=target.id,
        actor_id=actor_id,
        changes=changes,
    )
    if target.entity == "deal":
        timeline_record(
            team_id=target.team_id,
            kind=ActivityKind.SYSTEM,
            author_id=actor_id,
            deal_id=target.id,
            subject="update",
            body=audit.describe("update", changes),
            data={"action": "update", "changes": changes, "entity": "deal"},
        )
    return True


# --- lists: filters and sorts ------------------------------------------------------------------


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


def _operand(field: CustomField, op: str, raw: str):
    """A URL operand as the column compares it; None when it makes no sense (ignored)."""
    raw = (raw or "").strip()
    if op == "empty":
        return raw not in ("0", "no", "false")
    if not raw:
        return None
    try:
        if op == "contains":
            return raw.lower()[:100]
        if op == "any":
            ids = [_option(field, part) for part in raw.split(",")]
            return tuple(i for i in ids if i) or None
        if field.type == "checkbox":
            return 1.0 if raw.lower() in ("1", "yes", "true", "on") else 0.0
        if field.type == "select":
            return _option(field, raw)
        if field.type == "date":
            return date.fromisoformat(raw)
        if field.type == "money":
            return float(_money(raw, "x"))
        if field.type in ("number", "member"):
            return float(Decimal(raw))
        if field.type == "email":
            return raw.lower()
        if field.type == "phone":
            return normalize.phone(raw, phone_region())
        return raw
    except (ValueError, InvalidOperation, Invalid, normalize.BadValue):
        return None


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
        value = _operand(field, op, args.get(name))
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


# --- automation ----------------------------------------------------------------------------------


def matches(record, field: CustomField, op: str, operand) -> bool:
    """Whether a record's value meets a condition (eq / contains / min / max / any / empty) —
    the same operators as the list filters, for automation rules."""
    target = target_of(record)
    value = read(target.team_id, target.entity, [target.id], [field]).get(target.id, {})
    value = value.get(field.id)
    if op == "empty":
        return (value is None or value == [] or value is False) == bool(operand)
    if value is None:
        return False
    parsed = _operand(field, op, operand if isinstance(operand, str) else str(operand))
    if parsed is None:
        return False
    if field.type == "money":
        value = float(value)
    if op == "contains":
        shown = show(field, value) if field.type in ("select", "multi_select") else str(value)
        return parsed in shown.lower()
    if op == "any":
        chosen = value if isinstance(value, list) else [value]
        return any(v in parsed for v in chosen)
    if field.type == "checkbox":
        return float(bool(value)) == parsed
    if op == "eq":
        return value == parsed
    if op == "min":
        return value >= parsed
    if op == "max":
        return value <= parsed
    return False
