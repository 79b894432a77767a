"""The timeline: every activity on contacts, companies and deals."""

from flask import Blueprint

bp = Blueprint("timeline", __name__)

from crm.timeline import routes  # noqa: E402,F401
