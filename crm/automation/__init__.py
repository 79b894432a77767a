"""Automation rules: when a trigger fires, if conditions hold, run actions in order.

Feature pieces: catalogue.py (triggers, conditions, actions: what a rule can say), rules.py
(admins' rule service and the dry run), engine.py (the event subscriber, the run job with
retries and idempotent actions, loop protection, the sweep with time-based triggers).
Pages are an admin tab under /settings/automation. See docs/automation.md.
"""

from flask import Blueprint

bp = Blueprint("automation", __name__, url_prefix="/settings/automation")

from crm.automation import routes  # noqa: E402,F401,I001
