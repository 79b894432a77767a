from flask import Blueprint

bp = Blueprint("leads", __name__)
# Web-to-lead forms and the Spam list: admin tabs under /settings.
settings_bp = Blueprint("settings_leads", __name__, url_prefix="/settings")

from crm.leads import public, routes  # noqa: E402,F401,I001  (pages, the public form endpoint)
