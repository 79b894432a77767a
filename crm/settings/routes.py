"""Settings: profile, team, members and invitations, the outbox (thin views)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.auth import services as accounts
from crm.errors import Invalid
from crm.extensions import db
from crm.htmx import render, trigger
from crm.kernel import paging
from crm.models import Invitation, Membership, OutboundEmail, Role, User, utcnow
from crm.security import admin_required, current_membership, current_team, get_or_404, scoped
from crm.settings import bp
from crm.settings.forms import InviteForm, PasswordForm, ProfileForm, RoleForm, TeamForm

OUTBOX_PAGE = 50


@bp.route("/", methods=["GET", "POST"])
def profile():
    form = ProfileForm(obj=current_user)
    password_form = PasswordForm(prefix="pw")
    if request.method == "POST" and form.validate_on_submit():
        current_user.name = form.name.data.strip()
        current_user.timezone = form.timezone.data
        db.session.commit()
        flash("Profile saved.", "success")
        return redirect(url_for("settings.profile"), 303)
    return render_template("settings/profile.html", form=form, password_form=password_form), (
        422 if form.errors else 200
    )


@bp.post("/password")
def password():
    form = ProfileForm(obj=current_user, formdata=None)
    password_form = PasswordForm(prefix="pw")
    if password_form.validate_on_submit():
        try:
            accounts.change_password(
                current_user, password_form.current.data, password_form.password.data
            )
        except Invalid as error:
            password_form.current.errors = [error.message]
        else:
            flash("Password changed. Other devices are logged out.", "success")
            return redirect(url_for("settings.profile"), 303)
    return render_template("settings/profile.html", form=form, password_form=password_form), 422


@bp.route("/team", methods=["GET", "POST"])
@admin_required
def team():
    team = current_team()
    form = TeamForm(obj=team)
    if form.validate_on_submit():
        team.name = form.name.data.strip()
        team.currency = form.currency.data
        team.default_country = form.default_country.data or None
        team.auto_create_contacts = form.auto_create_contacts.data
        team.require_sender_auth = form.require_sender_auth.data
        db.session.commit()
        flash("Team settings saved.", "success")
        return redirect(url_for("settings.team"), 303)
    return render_template("settings/team.html", form=form), 422 if form.errors else 200


def _members_context(form: InviteForm | None = None) -> dict:
    team = current_team()
    members = db.session.scalars(scoped(Membership).join(User).order_by(User.name)).all()
    invitations = db.session.scalars(
        scoped(Invitation)
        .where(
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at.desc())
    ).all()
    return {
        "team": team,
        "members": members,
        "invitations": invitations,
        "form": form or InviteForm(),
        "me": current_membership(),
        "Role": Role,
    }


@bp.get("/members")
@admin_required
def members():
    return render("settings/members.html", "settings/_members.html", **_members_context())


@bp.post("/members/invite")
@admin_required
def invite():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation = accounts.invite(
                current_team(), current_user, form.email.data, Role(form.role.data)
            )
        except Invalid as error:
            form.email.errors = [error.message]
        else:
            response = render(
                "settings/members.html",
                "settings/_members.html",
                **_members_context(),
                sent_to=invitation.email,
            )
            return trigger(response, "invitation-sent", {"email": invitation.email})
    return render(
        "settings/members.html", "settings/_members.html", http_status=422, **_members_context(form)
    )


@bp.post("/members/<id:membership_id>/role")
@admin_required
def change_role(membership_id: int):
    target = get_or_404(Membership, membership_id)
    form = RoleForm()
    if not form.validate_on_submit():
        raise Invalid("Choose owner, admin or member.")
    accounts.change_role(current_membership(), target, Role(form.role.data))
    flash(f"{target.user.name} is now {target.role.value}.", "success")
    return render("settings/members.html", "settings/_members.html", **_members_context())


@bp.post("/members/<id:membership_id>/remove")
@admin_required
def remove_member(membership_id: int):
    target = get_or_404(Membership, membership_id)
    name = target.user.name
    accounts.remove_member(current_membership(), target)
    flash(f"{name} was removed from the team.", "success")
    return render("settings/members.html", "settings/_members.html", **_members_context())


@bp.post("/invitations/<id:invitation_id>/revoke")
@admin_required
def revoke_invitation(invitation_id: int):
    invitation = get_or_404(Invitation, invitation_id)
    accounts.revoke_invite(invitation)
    flash(f"The invitation to {invitation.email} is withdrawn.", "success")
    return render("settings/members.html", "settings/_members.html", **_members_context())


@bp.get("/outbox")
@admin_required
def outbox():
    stmt = scoped(OutboundEmail).order_by(OutboundEmail.id.desc()).limit(OUTBOX_PAGE + 1)
    if position := paging.decode(request.args.get("before"), int):
        stmt = stmt.where(OutboundEmail.id < position[0])
    rows = db.session.scalars(stmt).all()
    page = paging.take(rows, OUTBOX_PAGE, lambda row: paging.encode(row.id))
    return render(
        "settings/outbox.html",
        "settings/_outbox_rows.html",
        rows=page.items,
        next_before=page.next_cursor,
    )


@bp.get("/outbox/<id:outbox_id>")
@admin_required
def outbox_show(outbox_id: int):
    return render_template("settings/outbox_show.html", row=get_or_404(OutboundEmail, outbox_id))
