"""POST /inbound/email: raw RFC 822 from a mail provider's inbound route or a Postfix pipe."""

from __future__ import annotations

import hmac

from flask import current_app, jsonify, request

from crm.extensions import csrf
from crm.inbound import bp, intake
from crm.security import public


@bp.post("/inbound/email")
@public
@csrf.exempt  # a machine endpoint: it checks its own bearer secret instead
def receive():
    secret = current_app.config.get("INBOUND_SECRET")
    if not secret:
        return jsonify(error="HTTP intake is off: set INBOUND_SECRET to enable it."), 404
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return jsonify(error="Missing or wrong bearer token."), 401
    recipient = request.args.get("to") or request.headers.get("X-Original-To")
    if not recipient:
        return jsonify(error="Say which address the mail was for: ?to= or X-Original-To."), 400
    raw = request.get_data(cache=False)
    if not raw:
        return jsonify(error="The request body must be the raw RFC 822 message."), 400
    try:
        message = intake.accept(
            raw,
            envelope_to=recipient,
            envelope_from=request.headers.get("X-Envelope-From"),
            via="http",
        )
    except intake.Rejected as error:
        status = 413 if error.code == 552 else 404
        return jsonify(error=error.message), status
    return jsonify(id=message.id, status=message.status.value), 202
