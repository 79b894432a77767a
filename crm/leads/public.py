"""The public web-to-lead endpoint /f/<token>: the hosted page, snippet posts and JSON posts.

The one place besides email-in that is CSRF-exempt, by design: anyone on the internet may post
a form, the token in the URL names the form (and so the team), and abuse is handled by the
honeypot, the signed fill-time stamp, rate limits and size limits (see docs/leads.md).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from flask import (
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
)
from flask_limiter.util import get_remote_address
from sqlalchemy import select

from crm.errors import Invalid
from crm.extensions import csrf, db, limiter
from crm.leads import bp, services
from crm.models import LeadForm
from crm.security import public as no_login


def _form_or_404(token: str) -> LeadForm:
    form = db.session.scalars(
        select(LeadForm).where(LeadForm.token == token[:32], LeadForm.active.is_(True))
    ).first()
    if form is None:
        abort(404)
    return form


def _per_address() -> str:
    return current_app.config.get("LEADS_RATE_PER_ADDRESS", "10/minute")


def _per_form() -> str:
    return current_app.config.get("LEADS_RATE_PER_FORM", "300/minute")


def _form_key() -> str:
    return "lead-form:" + str((request.view_args or {}).get("token", ""))[:32]


def _cors(response: Response, form: LeadForm) -> Response:
    origin = request.headers.get("Origin")
    if services.is_allowed_origin(form, origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        response.vary.add("Origin")
    return response


def _page(form: LeadForm, *, values=None, errors=None, status=200):
    tracking = {k: request.args[k][:100] for k in services.TRACKING if request.args.get(k)}
    return make_response(
        render_template(
            "leads/public_form.html",
            form=form,
            labels=services.FIELD_LABELS,
            values=values or {},
            errors=errors or {},
            tracking=tracking,
            stamp=services.stamp(form),
            honeypot=services.HONEYPOT,
        ),
        status,
    )


@bp.route("/f/<token>", methods=["GET", "POST", "OPTIONS"])
@no_login
@csrf.exempt
@limiter.limit(_per_address, methods=["POST"], key_func=get_remote_address)
@limiter.limit(_per_form, methods=["POST"], key_func=_form_key)
def public(token: str):
    form = _form_or_404(token)
    if request.method == "OPTIONS":
        return _cors(make_response("", 204), form)
    if request.method == "GET":
        response = _page(form)
        response.headers["Cache-Control"] = "no-store"  # the stamp is fresh on every view
        return response
    limit = current_app.config.get("LEADS_MAX_BYTES", 16 * 1024)
    if request.content_length is None or request.content_length > limit:
        return _reply(form, 413, {"error": f"That is too much to send (over {limit // 1024} KB)."})
    wants_json = request.is_json
    if wants_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return _reply(form, 400, {"error": "Send a JSON object of field names and values."})
    else:
        data = request.form.to_dict()
    # What the answer needs, read before the commit expires the form (no second SELECT).
    target, thanks = services.safe_redirect(form), _thanks(form)
    shown = SimpleNamespace(name=form.name, allowed_origins=list(form.allowed_origins or []))
    try:
        services.receive(form, data, get_remote_address())
    except Invalid as error:
        db.session.rollback()
        if wants_json:
            return _reply(form, 422, {"error": error.message, "field": error.field})
        return _page(form, values=data, errors={error.field or "": error.message}, status=422)
    if wants_json:
        return _reply(shown, 200, {"ok": True, "message": thanks, "redirect": target})
    if target:
        return redirect(target, 303)
    return render_template("leads/thanks.html", form=shown, message=thanks)


def _thanks(form: LeadForm) -> str:
    return form.thank_you or "Thank you! We will be in touch soon."


def _reply(form: LeadForm, status: int, payload: dict) -> Response:
    if request.is_json:
        response = make_response(json.dumps(payload), status)
        response.mimetype = "application/json"
    else:
        response = make_response(
            render_template("leads/thanks.html", form=form, message=payload["error"]), status
        )
    return _cors(response, form)


EMBED_JS = """(function () {
  var action = %(action)s, stamp = %(stamp)s, keys = %(keys)s;
  var params = new URLSearchParams(window.location.search);
  document.querySelectorAll('form[action="' + action + '"]').forEach(function (form) {
    function put(name, value) {
      var input = form.querySelector('input[name="' + name + '"]');
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        form.appendChild(input);
      }
      input.value = value;
    }
    put("_ts", stamp);
    keys.forEach(function (key) { if (params.get(key)) put(key, params.get(key)); });
  });
})();
"""


@bp.get("/f/<token>/embed.js")
@no_login
def embed_js(token: str):
    """The snippet's script: a fresh fill-time stamp and the page's UTM values into the form."""
    form = _form_or_404(token)
    body = EMBED_JS % {
        "action": json.dumps(public_url(form)),
        "stamp": json.dumps(services.stamp(form)),
        "keys": json.dumps(list(services.TRACKING)),
    }
    response = make_response(body)
    response.mimetype = "application/javascript"
    response.headers["Cache-Control"] = "no-store"
    return response


def public_url(form: LeadForm) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + f"/f/{form.token}"


def snippet(form: LeadForm) -> str:
    """The copy-paste HTML for another website: a plain form POST plus the stamp script."""
    return render_template(
        "leads/snippet.html",
        form=form,
        url=public_url(form),
        labels=services.FIELD_LABELS,
        honeypot=services.HONEYPOT,
    )
