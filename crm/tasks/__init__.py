"""Tasks and reminders (issue 5): the /tasks pages, the reminder and digest sweeps, the feed."""

from flask import Blueprint

bp = Blueprint("tasks", __name__)

from crm.tasks import routes  # noqa: E402,F401
