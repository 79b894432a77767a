from flask import Blueprint

bp = Blueprint("inbound", __name__)

from crm.inbound import routes, views  # noqa: E402,F401,I001  (email-in pages, settings tabs)
