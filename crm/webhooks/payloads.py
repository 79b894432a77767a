"""What a webhook receives: {id, event, created_at, team_id, data: {the record}, changes}.

Contacts, companies and deals carry their custom fields as `data.custom_fields`, keyed by
field key in the same JSON forms as the API.

The record is read once, when the delivery rows are written (right after the commit that emitted
the event), and the JSON is stored on each delivery: a retry or a redelivery sends the same bytes
the first attempt did. A record gone by then (a deleted task) is sent as {"id": …}.
"""

from __future__ import annotations

import enum
import json
from datetime import date, datetime

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from crm.kernel import custom_json
from crm.kernel.events import Event
from crm.models import Activity, Company, Contact, Deal, Task

MODELS = {
    "contact": Contact,
    "company": Company,
    "deal": Deal,
    "task": Task,
    "activity": Activity,
}


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def record_data(session: Session, record_type: str, record_id: int, team_id: int) -> dict:
    model = MODELS.get(record_type)
    row = session.get(model, record_id) if model else None
    if row is None or row.team_id != team_id:
        return {"id": record_id, "type": record_type}
    data = {"type": record_type}
    for column in inspect(model).column_attrs:
        data[column.key] = _plain(getattr(row, column.key))
    if isinstance(row, Contact):
        data["emails"] = [e.email for e in row.emails]
        data["phones"] = [p.e164 for p in row.phones]
    if isinstance(row, Contact | Company | Deal):
        data["tags"] = [t.name for t in row.tags]
    if isinstance(row, Contact | Company | Deal):
        # Keyed by field key, in the API's JSON forms (crm/kernel/custom_json.py).
        data["custom_fields"] = custom_json.as_json(
            team_id, record_type, [record_id], session=session
        )[record_id]
    if isinstance(row, Deal):
        data["contact_ids"] = [c.id for c in row.contacts]
    if isinstance(row, Activity):
        data["contact_ids"] = [link.contact_id for link in row.links]
    return data


def build(event: Event, data: dict) -> str:
    body = {
        "id": event.id,
        "event": event.name,
        "created_at": event.occurred_at.isoformat(),
        "team_id": event.team_id,
        "actor_id": event.actor_id,
        "data": data,
        "changes": event.changes,
    }
    return json.dumps(body, separators=(",", ":"), default=str)
