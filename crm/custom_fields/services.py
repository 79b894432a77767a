"""Custom field definitions and values: the writes (each owns its commit).

`set_value(record, field, value, actor_id)` is the one call for people, imports and automation
rules ("set field" actions); `matches()` in crm.kernel.custom_fields evaluates conditions.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy import delete, func, select, update

from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import audit
from crm.kernel import custom_fields as values
from crm.kernel.fields import CURRENCIES
from crm.models import ENTITIES_CUSTOM, TYPES_CUSTOM, CustomField, CustomValue, utcnow

TRASH_DAYS = 30
MAX_FIELDS = 100
MAX_OPTIONS = 200


def _key(label: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40]
    return key or "field"


def _options(raw: str, existing: list[dict]) -> list[dict]:
    """Options from one label per line, keeping the ids of labels that are still there."""
    by_label = {o["label"].lower(): o["id"] for o in existing}
    options, seen = [], set()
    for line in (raw or "").splitlines():
        label = line.strip()[:80]
        if not label or label.lower() in seen:
            continue
        seen.add(label.lower())
        options.append({"id": by_label.get(label.lower()) or secrets.token_hex(3), "label": label})
    if len(options) > MAX_OPTIONS:
        raise Invalid(f"At most {MAX_OPTIONS} options.", field="options")
    return options


def _check(team_id: int, data: dict, field: CustomField | None) -> dict:
    label = (data.get("label") or "").strip()
    if not label:
        raise Invalid("Give the field a name.", field="label")
    if len(label) > 80:
        raise Invalid("At most 80 characters.", field="label")
    entity = field.entity if field else data.get("entity")
    if entity not in ENTITIES_CUSTOM:
        raise Invalid("Choose contacts, companies or deals.", field="entity")
    kind = field.type if field else data.get("type")
    if kind not in TYPES_CUSTOM:
        raise Invalid("Choose a type.", field="type")
    taken = db.session.scalar(
        select(func.count())
        .select_from(CustomField)
        .where(
            CustomField.team_id == team_id,
            CustomField.entity == entity,
            func.lower(CustomField.label) == label.lower(),
            CustomField.deleted_at.is_(None),
            CustomField.id != (field.id if field else -1),
        )
    )
    if taken:
        raise Invalid(f"There is already a field called {label}.", field="label")
    currency = (data.get("currency") or "").upper()
    if kind == "money" and currency not in CURRENCIES:
        raise Invalid("Choose a currency.", field="currency")
    clean = {
        "label": label,
        "required": bool(data.get("required")),
        "help_text": (data.get("help_text") or "").strip()[:200],
        "section": (data.get("section") or "").strip()[:60],
        "currency": currency if kind == "money" else "",
    }
    if kind in ("select", "multi_select"):
        clean["options"] = _options(data.get("options") or "", field.options if field else [])
        if not clean["options"]:
            raise Invalid("Add at least one option, one per line.", field="options")
    return clean | {"entity": entity, "type": kind}


def create_field(team_id: int, data: dict, actor_id: int | None) -> CustomField:
    """Add a field: a row, no schema change."""
    clean = _check(team_id, data, None)
    count = db.session.scalar(
        select(func.count()).select_from(CustomField).where(CustomField.team_id == team_id)
    )
    if count >= MAX_FIELDS:
        raise Invalid(f"A team can have at most {MAX_FIELDS} custom fields.")
    existing = set(
        db.session.scalars(
            select(CustomField.key).where(
                CustomField.team_id == team_id, CustomField.entity == clean["entity"]
            )
        )
    )
    key, n = _key(clean["label"]), 2
    base = key
    while key in existing:
        key, n = f"{base}_{n}", n + 1
    position = db.session.scalar(
        select(func.coalesce(func.max(CustomField.position), 0)).where(
            CustomField.team_id == team_id, CustomField.entity == clean["entity"]
        )
    )
    field = CustomField(
        team_id=team_id,
        key=key,
        position=position + 1,
        options=clean.pop("options", []),
        **clean,
    )
    db.session.add(field)
    db.session.flush()
    audit.write(
        team_id=team_id,
        actor_id=actor_id,
        entity_type="custom_field",
        entity_id=field.id,
        action="create",
        changes={"Label": [audit.EMPTY, field.label], "Type": [audit.EMPTY, field.type_label]},
    )
    db.session.commit()
    return field


def removed_options(field: CustomField, raw_options: str) -> list[dict]:
    """The options an edit would remove (the form asks what to do with their records)."""
    kept = {line.strip().lower() for line in (raw_options or "").splitlines() if line.strip()}
    return [o for o in field.options if o["label"].lower() not in kept]


def update_field(
    field: CustomField, data: dict, actor_id: int | None, *, move_to: str | None = None
) -> CustomField:
    """Rename, re-order options, change help/section/required. Records holding an option that
    is removed lose it (move_to="" or None) or get the option labelled `move_to` instead."""
    clean = _check(field.team_id, data, field)
    changes = {}
    if clean["label"] != field.label:
        changes["Label"] = [field.label, clean["label"]]
    if "options" in clean:
        new_ids = {o["id"] for o in clean["options"]}
        gone = [o["id"] for o in field.options if o["id"] not in new_ids]
        target = None
        if move_to:
            target = next(
                (o["id"] for o in clean["options"] if o["label"].lower() == move_to.lower()), None
            )
            if target is None:
                raise Invalid("Move them to one of the remaining options.", field="move_to")
        if gone:
            _drop_options(field, gone, target)
        if [o["label"] for o in field.options] != [o["label"] for o in clean["options"]]:
            changes["Options"] = [
                ", ".join(o["label"] for o in field.options),
                ", ".join(o["label"] for o in clean["options"]),
            ]
        field.options = clean["options"]
    for name in ("label", "required", "help_text", "section", "currency"):
        setattr(field, name, clean[name])
    if changes:
        audit.write(
            team_id=field.team_id,
            actor_id=actor_id,
            entity_type="custom_field",
            entity_id=field.id,
            action="update",
            changes=changes,
        )
    db.session.commit()
    return field


def _drop_options(field: CustomField, gone: list[str], target: str | None) -> None:
    rows = CustomValue.field_id == field.id
    if target is None:
        db.session.execute(delete(CustomValue).where(rows, CustomValue.text_value.in_(gone)))
        return
    if field.type == "multi_select":
        # A record that already has the target keeps one row of it.
        has_target = select(CustomValue.record_id).where(rows, CustomValue.text_value == target)
        db.session.execute(
            delete(CustomValue).where(
                rows, CustomValue.text_value.in_(gone), CustomValue.record_id.in_(has_target)
            )
        )
    db.session.execute(
        update(CustomValue)
        .where(rows, CustomValue.text_value.in_(gone))
        .values(text_value=target)
        .execution_options(synchronize_session=False)
    )


def move_field(field: CustomField, direction: int) -> None:
    """Swap a field with its neighbour in the order (direction -1 up, +1 down)."""
    siblings = values.fields_for(field.team_id, field.entity)
    index = next(i for i, f in enumerate(siblings) if f.id == field.id)
    other = index + direction
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
        for position, sibling in enumerate(siblings, start=1):
            sibling.position = position
    db.session.commit()


def delete_field(field: CustomField, actor_id: int | None) -> None:
    """Move a field to the trash: hidden everywhere, values kept for TRASH_DAYS."""
    if field.deleted_at is None:
        field.deleted_at = utcnow()
        audit.write(
            team_id=field.team_id,
            actor_id=actor_id,
            entity_type="custom_field",
            entity_id=field.id,
            action="delete",
        )
    db.session.commit()


def restore_field(field: CustomField, actor_id: int | None) -> None:
    if field.deleted_at is not None:
        clash = db.session.scalar(
            select(func.count())
            .select_from(CustomField)
            .where(
                CustomField.team_id == field.team_id,
                CustomField.entity == field.entity,
                func.lower(CustomField.label) == field.label.lower(),
                CustomField.deleted_at.is_(None),
            )
        )
        if clash:
            raise Invalid(f"Another field is called {field.label} now; rename it first.")
        field.deleted_at = None
        audit.write(
            team_id=field.team_id,
            actor_id=actor_id,
            entity_type="custom_field",
            entity_id=field.id,
            action="restore",
        )
    db.session.commit()


def purge_trash() -> int:
    """Destroy fields (and their values) in the trash for more than TRASH_DAYS."""
    cutoff = utcnow() - timedelta(days=TRASH_DAYS)
    old = select(CustomField.id).where(
        CustomField.deleted_at.is_not(None), CustomField.deleted_at < cutoff
    )
    db.session.execute(
        delete(CustomValue)
        .where(CustomValue.field_id.in_(old))
        .execution_options(synchronize_session=False)
    )
    result = db.session.execute(
        delete(CustomField)
        .where(CustomField.deleted_at.is_not(None), CustomField.deleted_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def set_value(record, field: CustomField, value, actor_id: int | None) -> bool:
    """Validate and store a record's value of a field, audited and on its timeline; commits.
    Raises Invalid (on `cf_<key>`) for a bad value; False when nothing changed."""
    if field.deleted_at is not None:
        raise Invalid("That field is in the trash.", field=f"cf_{field.key}")
    changed = values.write(record, field, value, actor_id)
    db.session.commit()
    return changed
