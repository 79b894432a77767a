"""Settings → API tokens (thin views): your tokens, and for admins every token of the team."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from crm.api import tokens as service
from crm.api import tokens_bp as bp
from crm.errors import Invalid
from crm.htmx import render, trigger
from crm.kernel import members
from crm.kernel.forms import show_error
from crm.models import ApiToken, TokenScope
from crm.security import current_membership, current_team, get_or_404


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])
    scope = SelectField(
        "Access",
        choices=[(TokenScope.READ.value, "Read only"), (TokenScope.WRITE.value, "Read and write")],
    )
    expires_on = DateField("Expires on (optional)", validators=[Optional()])


def _context(form: TokenForm | None = None, secret: str | None = None, created=None) -> dict:
    membership = current_membership()
    team = current_team()
    mine = service.tokens_of(team.id, current_user.id)
    others = []
    if members.can_manage(membership):
        others = [t for t in service.tokens_of(team.id) if t.user_id != current_user.id]
    return {
        "form": form or TokenForm(formdata=None),
        "mine": mine,
        "others": others,
        "secret": secret,
        "created": created,
        "can_manage": members.can_manage(membership),
    }


@bp.get("")
def index():
    return render("api/tokens.html", "api/_tokens.html", **_context())


@bp.post("")
def create():
    form = TokenForm()
    if form.validate_on_submit():
        expires = None
        if form.expires_on.data:
            expires = datetime.combine(form.expires_on.data, time.max, tzinfo=UTC)
        try:
            token, secret = service.create_token(
                current_team().id,
                current_user.id,
                name=form.name.data,
                scope=form.scope.data,
                expires_at=expires,
            )
        except Invalid as error:
            show_error(form, error)
        else:
            # The secret is shown on this answer only: it is not stored anywhere.
            response = render(
                "api/tokens.html",
                "api/_tokens.html",
                **_context(secret=secret, created=token),
            )
            response.headers["Cache-Control"] = "no-store"
            return trigger(response, "api-token-created", {"id": token.id})
    return render("api/tokens.html", "api/_tokens.html", http_status=422, **_context(form))


@bp.post("/<id:token_id>/revoke")
def revoke(token_id: int):
    token = get_or_404(ApiToken, token_id)
    service.revoke_token(token, current_membership())
    if request.headers.get("HX-Request"):
        response = render("api/tokens.html", "api/_tokens.html", **_context())
        return trigger(response, "api-token-revoked", {"id": token.id})
    flash(f"The token “{token.name}” is revoked.", "success")
    return redirect(url_for("api_tokens.index"), 303)
