"""What a rule can say: its triggers, the fields its conditions compare, its actions.

A record's fields (`fields()`) are plain values, so conditions are evaluated the same way in the
subscriber, the job and the dry run. Actions are described (`describe()`) before they are done:
the dry run shows that text, and the run log records it as the action's outcome.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import object_session

from crm.models import Contact, Deal, Lead, Task

MAX_DEPTH = 3  # a chain of rules triggering rules stops after this many

# key: (label, event name or None for a time-based trigger, record type)
TRIGGERS: dict[str, tuple[str, str | None, str]] = {
    "contact_created": ("Contact created", "contact.created", "contact"),
    "contact_field_changed": ("Contact field changed", "contact.updated", "contact"),
    "lead_status_changed": ("Lead status changed", "lead.status_changed", "contact"),
    "form_submitted": ("Form submitted", "form.submitted", "contact"),
    "email_logged": ("Email logged", "email.logged", "contact"),
    "deal_created": ("Deal created", "deal.created", "deal"),
    "deal_stage_entered": ("Deal entered a stage", "deal.stage_changed", "deal"),
    "deal_won": ("Deal won", "deal.won", "deal"),
    "deal_lost": ("Deal lost", "deal.lost", "deal"),
    "deal_rotting": ("Deal went rotting", None, "deal"),
    "task_overdue": ("Task overdue", None, "task"),
    "contact_no_activity": ("No activity on a contact for N days", None, "contact"),
    "deal_no_activity": ("No activity on a deal for N days", None, "deal"),
    "contact_days_after": ("N days after a contact's date field", None, "contact"),
    "deal_days_after": ("N days after a deal's date field", None, "deal"),
}
TIME_TRIGGERS = tuple(key for key, (_, ev, _) in TRIGGERS.items() if ev is None)
DATE_FIELDS = {
    "contact": {"created_at": "Created", "last_activity_at": "Last activity"},
    "deal": {
        "created_at": "Created",
        "expected_close": "Expected close",
        "stage_entered_at": "Entered its stage",
    },
}

# Fields a condition can compare, per record type: key → label.
FIELDS = {
    "contact": {
        "first_name": "First name",
        "last_name": "Last name",
        "email": "Email",
        "title": "Title",
        "source": "Source",
        "city": "City",
        "country": "Country",
        "lifecycle": "Stage (lifecycle)",
        "lead_status": "Lead status",
        "owner_id": "Owner",
        "tags": "Tags",
    },
    "deal": {
        "title": "Title",
        "value": "Value",
        "currency": "Currency",
        "status": "Status",
        "owner_id": "Owner",
        "pipeline_id": "Pipeline",
        "stage_id": "Stage",
        "tags": "Tags",
    },
    "task": {"title": "Title", "priority": "Priority", "owner_id": "Assignee"},
}
ALL_FIELDS = {k: v for fields in FIELDS.values() for k, v in fields.items()}
# Contact fields a "contact field changed" trigger can watch: the audit labels.
WATCHED = ("Owner", "Stage", "Tags", "Title", "Source", "City", "Country", "Emails", "Company")

OPS = {
    "eq": "is",
    "ne": "is not",
    "contains": "contains",
    "empty": "is empty",
    "not_empty": "is not empty",
    "gt": "is more than",
    "lt": "is less than",
    "has_tag": "has tag",
    "lacks_tag": "lacks tag",
}

ACTIONS = {
    "assign_owner": "Assign owner",
    "round_robin": "Assign owner by round robin",
    "add_tag": "Add tag",
    "remove_tag": "Remove tag",
    "create_task": "Create task",
    "move_stage": "Move deal to stage",
    "set_field": "Set field",
    "send_email": "Send email",
    "call_webhook": "Call a webhook",
}
# What a "call a webhook" action sends: the record, with the rule and run in `changes`.
WEBHOOK_EVENT = "automation.rule_ran"
# Fields a "set field" action can write, per record type.
SETTABLE = {
    "contact": ("title", "source", "city", "region", "country", "lifecycle"),
    "deal": ("title",),
}


def fields(record, names=None) -> dict:
    """The record's comparable values (strings, numbers, lists of tag names); `names` limits
    the ones that cost a query (a contact's lead status) to those a rule compares."""
    if isinstance(record, Contact):
        return {
            "first_name": record.first_name,
            "last_name": record.last_name,
            "email": record.emails[0].email if record.emails else None,
            "title": record.title,
            "source": record.source,
            "city": record.city,
            "country": record.country,
            "lifecycle": str(record.lifecycle) if record.lifecycle else None,
            "lead_status": (
                _lead_status(record) if names is None or "lead_status" in names else None
            ),
            "owner_id": record.owner_id,
            "tags": [t.name for t in record.tags],
        }
    if isinstance(record, Deal):
        return {
            "title": record.title,
            "value": record.value_minor / 100,
            "currency": record.currency,
            "status": str(record.status),
            "owner_id": record.owner_id,
            "pipeline_id": record.pipeline_id,
            "stage_id": record.stage_id,
            "tags": [t.name for t in record.tags],
        }
    if isinstance(record, Task):
        return {
            "title": record.title,
            "priority": str(record.priority),
            "owner_id": record.assignee_id,
        }
    return {}


def _lead_status(contact: Contact) -> str | None:
    session = object_session(contact)
    if session is None or contact.id is None:
        return None
    status = session.scalar(select(Lead.status).where(Lead.contact_id == contact.id))
    return str(status) if status else None


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def holds(condition: dict, values: dict) -> bool:
    """One condition against a record's fields."""
    op, want = condition.get("op"), condition.get("value")
    have = values.get(condition.get("field"))
    if op in ("has_tag", "lacks_tag"):
        present = str(want or "").strip().lower() in (values.get("tags") or [])
        return present if op == "has_tag" else not present
    if op == "empty":
        return have in (None, "", [])
    if op == "not_empty":
        return have not in (None, "", [])
    if op in ("gt", "lt"):
        a, b = _number(have), _number(want)
        if a is None or b is None:
            return False
        return a > b if op == "gt" else a < b
    shown = "" if have is None else str(have).lower()
    want = str(want or "").strip().lower()
    if op == "eq":
        return shown == want
    if op == "ne":
        return shown != want
    if op == "contains":
        return want in shown
    return False


def all_hold(conditions: list, record) -> bool:
    if not conditions:
        return True
    values = fields(record, {c.get("field") for c in conditions})
    return all(holds(c, values) for c in conditions)


def business_days_from(day: date, n: int) -> date:
    """The date `n` working days (Monday to Friday) after `day`."""
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day
