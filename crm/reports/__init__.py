"""Reports, forecast and the weekly pipeline email (issue 13)."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from crm.reports import routes  # noqa: E402,F401  (routes attach to bp)
