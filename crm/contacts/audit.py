"""Audit trail: every field change is an AuditEvent and a system entry on the timeline."""

from __future__ import annotations

from crm.extensions import db
from crm.models import ActivityKind, AuditEvent
from crm.timeline.services import record

EMPTY = "—"


def show(value) -> str:
    """A value as people read it in the audit trail."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in sorted(value.items()))
    return str(getattr(value, "label", value))


def write(
    *,
    team_id: int,
    actor_id: int | None,
    entity_type: str,
    entity_id: int,
    action: str,
    changes: dict | None = None,
    contact_ids: list[int] | None = None,
    company_id: int | None = None,
) -> AuditEvent:
    """Record an audit event and its system timeline entry; the caller commits.

    `changes` maps a field's label to [old, new] display strings.
    """
    changes = changes or {}
    event = AuditEvent(
        team_id=team_id,
        actor_id=actor_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        changes=changes,
    )
    db.session.add(event)
    summary = describe(action, changes)
    record(
        team_id=team_id,
        kind=ActivityKind.SYSTEM,
        author_id=actor_id,
        contact_ids=contact_ids or [],
        company_id=company_id,
        subject=action,
        body=summary,
        data={"action": action, "changes": changes, "entity": entity_type},
    )
    return event


def describe(action: str, changes: dict) -> str:
    if action == "update" and changes:
        return "changed " + "; ".join(f"{k}: {old} → {new}" for k, (old, new) in changes.items())
    return {
        "create": "created this record",
        "delete": "moved this record to the trash",
        "restore": "restored this record from the trash",
    }.get(action, action)
