"""The app shell: dashboard, team switching, health check and the web app manifest."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select, text
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from crm.auth.services import create_team
from crm.core import bp
from crm.extensions import db
from crm.models import Membership, utcnow
from crm.reports import dashboard as reports_dashboard  # the tiles (issue 13)
from crm.security import current_team, public

# (label, short label for the phone bar, endpoint). Features appear once their blueprint exists.
NAV = [
    ("Dashboard", "Home", "core.dashboard"),
    ("Contacts", "Contacts", "contacts.index"),
    ("Deals", "Deals", "deals.board"),
    ("Tasks", "Tasks", "tasks.index"),
    ("Companies", "Companies", "companies.index"),
    ("Reports", "Reports", "reports.index"),
    ("Search", "Search", "search.page"),
    ("Settings", "Settings", "settings.profile"),
]


@bp.app_context_processor
def nav_context():
    def nav_items():
        endpoint = request.endpoint or ""
        section = endpoint.split(".", 1)[0]
        return [
            {
                "label": label,
                "short": short,
                "endpoint": ep,
                "active": ep == endpoint
                or (ep != "core.dashboard" and ep.split(".")[0] == section),
            }
            for label, short, ep in NAV
            if ep in current_app.view_functions
        ]

    return {"nav_items": nav_items, "has_view": lambda ep: ep in current_app.view_functions}


class NewTeamForm(FlaskForm):
    name = StringField("Team name", validators=[DataRequired(), Length(max=120)])


@bp.get("/")
def dashboard():
    team = current_team()
    tiles = reports_dashboard.context(team, current_user, utcnow())
    return render_template("core/dashboard.html", team=team, **tiles)


@bp.post("/teams/<id:team_id>/switch")
def switch_team(team_id: int):
    # Only the user's own memberships: someone else's team id is a 404 like any other.
    membership = db.session.scalars(
        select(Membership).where(
            Membership.user_id == current_user.id, Membership.team_id == team_id
        )
    ).first()
    if membership is None:
        abort(404)
    session["team_id"] = team_id
    current_user.last_team_id = team_id
    db.session.commit()
    flash(f"Switched to {membership.team.name}.", "info")
    return redirect(url_for("core.dashboard"), 303)


@bp.route("/teams/new", methods=["GET", "POST"])
def new_team():
    form = NewTeamForm()
    if form.validate_on_submit():
        team = create_team(form.name.data, current_user)
        db.session.commit()
        session["team_id"] = team.id
        flash(f"{team.name} is ready. Invite your teammates from Settings.", "success")
        return redirect(url_for("core.dashboard"), 303)
    return render_template("core/new_team.html", form=form), 422 if form.errors else 200


@bp.get("/healthz")
@public
def healthz():
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")


@bp.get("/manifest.webmanifest")
@public
def manifest():
    icons = [
        {
            "src": url_for("static", filename=f"icons/icon-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": "any maskable",
        }
        for size in (192, 512)
    ]
    response = jsonify(
        name="Rapport CRM",
        short_name="Rapport",
        start_url="/",
        scope="/",
        display="standalone",
        background_color="#ffffff",
        theme_color="#1f4fd1",
        icons=icons,
    )
    response.mimetype = "application/manifest+json"
    return response
