from flask import Blueprint

bp = Blueprint("dedupe", __name__)

from crm.dedupe import routes  # noqa: E402,F401
