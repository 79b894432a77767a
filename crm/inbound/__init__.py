from flask import Blueprint

bp = Blueprint("inbound", __name__)

from crm.inbound import routes  # noqa: E402,F401
from crm.inbound import views  # noqa: E402,F401  (email-in pages, settings tabs)
