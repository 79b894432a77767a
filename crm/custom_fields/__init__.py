"""Custom fields (settings tab, values on records) and saved list views."""

from flask import Blueprint

bp = Blueprint("custom_fields", __name__, url_prefix="/settings/custom-fields")
values_bp = Blueprint("custom_values", __name__, url_prefix="/custom")
views_bp = Blueprint("saved_views", __name__, url_prefix="/views")

from crm.custom_fields import routes, views_routes  # noqa: E402,F401
