"""Custom field values as one JSON object keyed by each field's `key`, for the API and webhooks.

Promise: as_json() gives {record_id: {key: value}} for many records in two queries (the team's
fields, their values), every field of the entity present (null when unset); check() validates
a client's object with the same rules as the forms (crm.kernel.custom_fields.parse) before
anything is written, naming `custom_fields.<key>` on a bad value or an unknown key; write()
stores the checked values through custom_fields.write (audit entry, timeline line, event),
leaving the commit to the caller.

JSON forms: text, long text, URL, email, phone → string; number → number; money → integer in
minor units (as `value_minor`); date → "YYYY-MM-DD"; checkbox → true/false; select → the
option's id (options are sent by id or label); multi select → a list of option ids; member →
the user id.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from crm.errors import Invalid
from crm.kernel import custom_fields
from crm.models import CustomField


def _plain(field: CustomField, value):
    if value is None:
        return [] if field.type == "multi_select" else None
    if isinstance(value, date):
        return value.isoformat()
    return value


def as_json(
    team_id: int, entity: str, record_ids, *, fields=None, session=None
) -> dict[int, dict[str, object]]:
    """{record_id: {key: JSON value}} for these records; {} for each when the team has no
    fields for the entity."""
    ids = list(record_ids)
    if fields is None:
        fields = custom_fields.fields_for(team_id, entity, session=session)
    if not fields or not ids:
        return {record_id: {} for record_id in ids}
    found = custom_fields.read(team_id, entity, ids, fields, session=session)
    return {
        record_id: {f.key: _plain(f, found.get(record_id, {}).get(f.id)) for f in fields}
        for record_id in ids
    }


def _raw(field: CustomField, value):
    """What custom_fields.parse() reads for a JSON value (money arrives in minor units)."""
    if field.type == "money" and value is not None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("Send money in minor units, as an integer (cents).")
        return str(Decimal(value) / 100)
    if field.type == "multi_select":
        if value is not None and not isinstance(value, list):
            raise Invalid("Send a list of options.")
        return value or []
    if isinstance(value, dict | list):
        raise Invalid(f"Send one value for {field.label}.")
    return value


def check(
    team_id: int, entity: str, given: dict, *, fields=None
) -> list[tuple[CustomField, object]]:
    """The (field, raw value) pairs to write, each already validated; Invalid on
    `custom_fields.<key>` for the first bad one. `fields`: the entity's, if already read."""
    if fields is None:
        fields = custom_fields.fields_for(team_id, entity)
    by_key = {f.key: f for f in fields}
    checked = []
    for key, value in given.items():
        name = f"custom_fields.{key}"
        field = by_key.get(key)
        if field is None:
            raise Invalid(f"No custom field {key!r} on {entity}s.", field=name)
        try:
            raw = _raw(field, value)
            custom_fields.parse(field, raw, team_id=team_id)
        except Invalid as error:
            raise Invalid(error.message, field=name) from None
        checked.append((field, raw))
    return checked


def write(record, checked: list[tuple[CustomField, object]], actor_id: int | None) -> None:
    """Store checked values on the record (audited; the caller commits)."""
    for field, raw in checked:
        custom_fields.write(record, field, raw, actor_id)
