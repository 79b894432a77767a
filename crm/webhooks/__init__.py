"""Webhooks: admins register URLs for domain events; each event becomes signed delivery rows.

Feature pieces: services.py (manage webhooks), fanout.py (the event subscriber that writes
deliveries), delivery.py (the job, retries, pausing, the sweep), signing.py, urls.py (SSRF),
payloads.py. Pages are an admin tab under /settings/webhooks.
"""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/settings/webhooks")

from crm.webhooks import routes  # noqa: E402,F401,I001
