"""Sign-up, log-in, log-out, password reset and accepting invitations (thin views)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from crm.auth import bp, services, sessions
from crm.auth.forms import AcceptInviteForm, ForgotForm, LoginForm, ResetForm, SignupForm
from crm.errors import Invalid
from crm.extensions import limiter
from crm.kernel.fields import region_from_locale
from crm.kernel.forms import show_error
from crm.kernel.urls import safe_url
from crm.security import public

AUTH_LIMIT = "10 per minute;50 per hour"


def safe_next(target: str | None) -> str:
    """`next` after log-in: a page of this site, else the dashboard."""
    return safe_url(target, url_for("core.dashboard"))


@bp.route("/signup", methods=["GET", "POST"])
@public
@limiter.limit(AUTH_LIMIT, methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("core.dashboard"))
    form = SignupForm()
    valid = form.validate_on_submit()
    if valid and current_app.config.get("MAIL_SERVER"):
        # Mail can be sent: confirm the address by email, and answer alike for every address
        # so the page never tells whether one has an account.
        services.request_signup(
            name=form.name.data,
            email=form.email.data,
            password=form.password.data,
            team_name=form.team_name.data,
            country=region_from_locale(request.accept_languages.values()),
        )
        return render_template("auth/signup_sent.html", email=form.email.data)
    if valid:
        try:
            user = services.signup(
                name=form.name.data,
                email=form.email.data,
                password=form.password.data,
                team_name=form.team_name.data,
                country=region_from_locale(request.accept_languages.values()),
            )
        except Invalid as error:
            show_error(form, error)
        else:
            sessions.log_in(user)
            session["team_id"] = user.last_team_id
            flash("Welcome to Rapport! Your team is ready.", "success")
            return redirect(url_for("core.dashboard"), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("auth/signup.html", form=form), status


@bp.get("/signup/confirm/<token>")
@public
@limiter.limit(AUTH_LIMIT)
def confirm_signup(token: str):
    try:
        user = services.confirm_signup(token)
    except Invalid as error:
        return render_template("auth/link_invalid.html", message=error.message), 400
    session.clear()
    sessions.log_in(user)
    session["team_id"] = user.last_team_id
    flash("Welcome to Rapport! Your team is ready.", "success")
    return redirect(url_for("core.dashboard"), 303)


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(AUTH_LIMIT, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.form_errors.append("That email and password do not match an account.")
        else:
            session.clear()  # a fresh session on log-in: no fixation
            sessions.log_in(user, remember=form.remember.data)
            session["team_id"] = user.last_team_id
            return redirect(safe_next(request.args.get("next")), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@public
def logout():
    if current_user.is_authenticated:
        sessions.end(current_user)  # the server forgets it: a copied cookie stops working
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"), 303)


@bp.route("/forgot", methods=["GET", "POST"])
@public
@limiter.limit(AUTH_LIMIT, methods=["POST"])
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        return render_template(
            "auth/forgot_sent.html",
            email=form.email.data,
            mail_configured=bool(current_app.config.get("MAIL_SERVER")),
        )
    status = 422 if form.errors else 200
    return render_template("auth/forgot.html", form=form), status


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
@limiter.limit(AUTH_LIMIT, methods=["POST"])
def reset(token: str):
    try:
        services.user_for_reset_token(token)
    except Invalid as error:
        return render_template("auth/link_invalid.html", message=error.message), 400
    form = ResetForm()
    if form.validate_on_submit():
        services.reset_password(token, form.password.data)
        logout_user()
        flash("Your password is changed. Log in with the new one.", "success")
        return redirect(url_for("auth.login"), 303)
    status = 422 if form.errors else 200
    return render_template("auth/reset.html", form=form), status


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def accept_invite(token: str):
    try:
        invitation = services.invitation_for_token(token)
    except Invalid as error:
        return render_template("auth/link_invalid.html", message=error.message), 400
    form = AcceptInviteForm()
    if current_user.is_authenticated:
        if current_user.email != invitation.email:
            return render_template("auth/invite_wrong_account.html", invitation=invitation), 403
        if request.method == "POST":  # CSRFProtect has checked the token already
            services.accept_invite(token, user=current_user)
            session["team_id"] = invitation.team_id
            flash(f"You joined {invitation.team.name}.", "success")
            return redirect(url_for("core.dashboard"), 303)
        return render_template("auth/invite_join.html", invitation=invitation)
    if form.validate_on_submit():
        try:
            user = services.accept_invite(token, name=form.name.data, password=form.password.data)
        except Invalid as error:
            show_error(form, error)
        else:
            sessions.log_in(user)
            session["team_id"] = invitation.team_id
            flash(f"Welcome to {invitation.team.name}!", "success")
            return redirect(url_for("core.dashboard"), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "auth/invite_signup.html",
        form=form,
        invitation=invitation,
        has_account=services.user_by_email(invitation.email) is not None,
    ), status


@bp.route("/no-team")
def no_team():
    return render_template("auth/no_team.html")
