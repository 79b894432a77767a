"""Deals: pipelines, the kanban board, the list, a deal's page, pipeline settings."""

from flask import Blueprint

bp = Blueprint("deals", __name__, url_prefix="/deals")
settings_bp = Blueprint("settings_pipelines", __name__, url_prefix="/settings/pipelines")

from crm.deals import routes, settings_routes  # noqa: E402,F401
