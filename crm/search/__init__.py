"""Full-text search: engine (framework-free), indexing, freshness hooks, pages."""

from flask import Blueprint

bp = Blueprint("search", __name__, url_prefix="/search")

from crm.search import routes  # noqa: E402,F401
