"""The REST API under /api/v1/: bearer tokens, JSON resources, an OpenAPI 3.1 document.

Writes go through the same service functions as the pages, so a record created here is
indistinguishable from one created on a page (audit, timeline, search indexing, and the
domain events webhooks will listen to). Cookies play no part: every request is authenticated
by `Authorization: Bearer`, so the blueprint is exempt from CSRF (here, explicitly; the token
pages keep it). The feature — both blueprints, the idempotency-key sweep, the settings tab —
is declared in crm/features.py.
"""

from flask import Blueprint

from crm.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

# The token pages live in settings, on a blueprint of their own (cookie auth, CSRF on).
tokens_bp = Blueprint("api_tokens", __name__, url_prefix="/settings/api-tokens")

from crm.api import (  # noqa: E402,F401  (routes register themselves on bp)
    core,
    docs,
    resources,
    token_routes,
)
