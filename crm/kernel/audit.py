"""Audit entries: who changed what on which record, old → new.

Promise: write() is the only way an AuditEvent is created. `changes` maps a field's label to
[old, new] as people read them (show() renders a value that way). With timeline=True the change
is also a system entry on the record's timeline (contacts and companies show their history
there). The caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from crm.extensions import db
from crm.kernel.timeline import record
from crm.models import ActivityKind, AuditEvent

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
    timeline: bool = False,
    contact_ids: Iterable[int] = (),
    company_id: int | None = None,
) -> AuditEvent:
    """Add an audit event (and, with timeline=True, its system timeline entry); caller commits."""
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
    if timeline:
        record(
            team_id=team_id,
            kind=ActivityKind.SYSTEM,
            author_id=actor_id,
            contact_ids=list(contact_ids),
            company_id=company_id,
            subject=action,
            body=describe(action, changes),
            data={"action": action, "changes": changes, "entity": entity_type},
        )
    return event


def describe(action: str, changes: dict) -> str:
    """One line for the timeline: what the change did."""
    if action == "update" and changes:
        return "changed " + "; ".join(f"{k}: {old} → {new}" for k, (old, new) in changes.items())
    return {
        "create": "created this record",
        "delete": "moved this record to the trash",
        "restore": "restored this record from the trash",
    }.get(action, action)
