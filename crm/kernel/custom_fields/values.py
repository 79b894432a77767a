"""Custom field values: typed value rows in and out, with the audit trail.

Promise: read() gives {record_id: {field_id: value}} for many records in one query; store()
replaces a record's value rows (no audit: bulk writes); write() validates and stores one value
with its audit entry and timeline line (the caller commits); search_text() is what a record's
search document holds; matches() is the condition evaluator automation rules call (the same
operators as the list filters); plain()/revert() let a change be undone later by the kernel's
restore rule (only a value that still holds what the change wrote goes back).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, select

from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import audit, events, restore
from crm.kernel.custom_fields import definitions
from crm.kernel.custom_fields.definitions import (
    SEARCHED,
    TEXT_TYPES,
    fields_for,
    parse,
    raw_for_input,
    show,
)
from crm.kernel.timeline import record as timeline_record
from crm.models import ActivityKind, CustomField, CustomValue, utcnow


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
    # Plain rows, not ORM objects: a page of 100 records × 10 fields reads 1,000 of them.
    rows = (session or db.session).execute(
        select(
            CustomValue.record_id,
            CustomValue.field_id,
            CustomValue.text_value,
            CustomValue.long_value,
            CustomValue.number_value,
            CustomValue.date_value,
        ).where(
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
    parsed = definitions.operand(field, op, operand if isinstance(operand, str) else str(operand))
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


# --- undo (import revert) -------------------------------------------------------------------------


def plain(record, fields) -> dict[str, str]:
    """{field id as text: the value as an input shows it ("" for none)} of these fields on a
    record: JSON, compared and put back by revert()."""
    target = target_of(record)
    found = read(target.team_id, target.entity, [target.id], fields).get(target.id, {})
    return {str(f.id): raw_for_input(f, found.get(f.id)) for f in fields}


def revert(record, before: dict, wrote: dict, actor_id: int | None) -> list[str]:
    """Put back the custom values a change wrote (`before`/`wrote` as plain() gave them) by the
    kernel's restore rule: only a value that still holds what the change wrote goes back,
    through write() (audited, on the timeline). Returns the labels of the fields kept as they
    are: edited since, or no longer able to take the old value (an option removed since)."""
    if not wrote:
        return []
    target = target_of(record)
    found = db.session.scalars(
        select(CustomField).where(
            CustomField.team_id == target.team_id,
            CustomField.entity == target.entity,
            CustomField.id.in_([int(k) for k in wrote]),
        )
    )
    by_id = {str(f.id): f for f in found}  # a field destroyed since has nothing to put back
    undo = restore.undo(
        before, {k: v for k, v in wrote.items() if k in by_id}, plain(record, list(by_id.values()))
    )
    kept = [by_id[k].label for k in undo.kept]
    for key, value in undo.values.items():
        try:
            write(record, by_id[key], value, actor_id)  # parses before it stores anything
        except Invalid:
            kept.append(by_id[key].label)
    return kept


def drop(entity: str, record_id: int) -> None:
    """Remove a record's value rows (the record itself is being deleted for good)."""
    db.session.execute(
        delete(CustomValue).where(
            CustomValue.record_type == entity, CustomValue.record_id == record_id
        )
    )
