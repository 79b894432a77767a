"""The leads feature's service functions, in one namespace for its routes, the CLI and tests.

Services take plain arguments, own the commit and raise domain errors. Each concern has its
module: fields.py (what a form asks, checking a post), setup.py (forms and assignment rules),
intake.py (the request path: stamp, spam, storing a submission), processing.py (the batched job
that makes contacts and leads), assignment.py (who gets a lead; round robin is the kernel's),
status.py (status, conversion, speed to lead).

What a visitor may change (the rule, also in docs/leads.md): a submission only ever touches the
form's own team. On an existing contact (same email) it *fills blanks* among the form's fields,
adds a new phone number and the form's tag, and logs the message; it never overwrites a name,
an owner, a company or any value already there, so sending someone else's address cannot rename
or reassign them.
"""

from __future__ import annotations

from crm.errors import Invalid
from crm.leads.assignment import assign_round_robin, choose_assignee, set_away
from crm.leads.fields import (
    ASKABLE,
    CONTACT_FIELDS,
    FIELD_LABELS,
    HONEYPOT,
    STAMP,
    STANDARD_FIELDS,
    TRACKING,
    clean_values,
)
from crm.leads.intake import receive, release, spam_reason, stamp
from crm.leads.processing import process_pending
from crm.leads.setup import is_allowed_origin, rule_for, safe_redirect, save_form, save_rule
from crm.leads.status import convert, set_status, speed_seconds
from crm.models import LeadForm, LeadStatus, LeadSubmission, SubmissionStatus

__all__ = [
    "ASKABLE",
    "CONTACT_FIELDS",
    "FIELD_LABELS",
    "HONEYPOT",
    "STAMP",
    "STANDARD_FIELDS",
    "TRACKING",
    "Invalid",
    "LeadForm",
    "LeadStatus",
    "LeadSubmission",
    "SubmissionStatus",
    "assign_round_robin",
    "choose_assignee",
    "clean_values",
    "convert",
    "is_allowed_origin",
    "process_pending",
    "receive",
    "release",
    "rule_for",
    "safe_redirect",
    "save_form",
    "save_rule",
    "set_away",
    "set_status",
    "spam_reason",
    "speed_seconds",
    "stamp",
]
