from flask import Blueprint

bp = Blueprint("inbound", __name__)
# The inbound log and never-log list: admin tabs under /settings.
settings_bp = Blueprint("settings_inbound", __name__, url_prefix="/settings")

from crm.inbound import routes, views  # noqa: E402,F401,I001  (email-in pages, settings tabs)
