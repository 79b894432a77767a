"""Email out: compose from a record, templates with merge fields, one-click unsubscribe."""

from flask import Blueprint

bp = Blueprint("outbound", __name__)

from crm.outbound import routes  # noqa: E402,F401
