"""Leads pages and the web-to-lead settings (thin views)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from crm.errors import Invalid
from crm.extensions import db
from crm.htmx import render
from crm.kernel import members
from crm.kernel.forms import show_error
from crm.kernel.urls import back_url
from crm.leads import bp, queries, services, settings_bp
from crm.leads.forms import AwayForm, ConfirmForm, LeadFormForm, RuleForm, StatusForm
from crm.leads.public import public_url, snippet
from crm.models import Lead, LeadForm, LeadSubmission, Pipeline, Stage
from crm.security import admin_required, current_membership, current_team, get_or_404, scoped


@bp.get("/leads")
def index():
    team = current_team()
    status = request.args.get("status") or None
    if status and status not in {s.value for s in services.LeadStatus}:
        status = None
    return render(
        "leads/index.html",
        "leads/_rows.html",
        rows=queries.leads(team.id, status),
        report=queries.speed_report(team.id),
        status=status,
        statuses=list(services.LeadStatus),
        duration=queries.duration,
        speed=services.speed_seconds,
        status_form=StatusForm(),
        away_form=AwayForm(away=current_membership().away),
    )


@bp.post("/leads/<id:lead_id>/status")
def set_status(lead_id: int):
    lead = get_or_404(Lead, lead_id)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            services.set_status(
                lead, form.status.data, actor_id=current_user.id, reason=form.reason.data
            )
        except Invalid as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("leads.index"), 303)
        flash(f"{lead.contact.name}: {lead.status.label}.", "success")
    return redirect(url_for("leads.index"), 303)


@bp.post("/leads/<id:lead_id>/convert")
def convert(lead_id: int):
    lead = get_or_404(Lead, lead_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("leads.index"), 303)
    try:
        deal = services.convert(lead, actor_id=current_user.id)
    except Invalid as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("leads.index"), 303)
    flash("Lead converted: its deal is on the board.", "success")
    return redirect(url_for("deals.show", deal_id=deal.id), 303)


@bp.post("/leads/away")
def away():
    form = AwayForm()
    if form.validate_on_submit():
        services.set_away(current_team().id, current_user.id, form.away.data)
        flash("You are away: new leads skip you." if form.away.data else "Welcome back.", "success")
    return redirect(back_url(url_for("leads.index")), 303)


# --- settings: forms and spam ----------------------------------------------------------------


def _stage_choices(team_id: int) -> list:
    rows = db.session.execute(
        select(Stage.id, Stage.name, Pipeline.name)
        .join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .where(Stage.team_id == team_id)
        .order_by(Pipeline.name, Stage.position)
    ).all()
    return [(None, "No deal")] + [(sid, f"{pname} · {sname}") for sid, sname, pname in rows]


def _setup(form, team_id: int):
    form.pool.choices = members.choices(team_id)
    form.fallback_id.choices = members.choices(team_id, first=[(None, "Nobody")])
    if hasattr(form, "stage_id"):
        form.stage_id.choices = _stage_choices(team_id)
    return form


def _fill(form, rule):
    if rule is not None and not form.is_submitted():
        form.mode.data, form.pool.data, form.field.data = rule.mode, rule.pool, rule.field
        form.fallback_id.data = rule.fallback_id
        emails = {u.id: u.email for u in members.members(rule.team_id)}
        form.mapping.data = "\n".join(
            f"{value} = {emails.get(uid, '')}" for value, uid in rule.mapping.items()
        )


@settings_bp.route("/forms", methods=["GET", "POST"])
@admin_required
def forms():
    team = current_team()
    rule_form = _setup(RuleForm(prefix="team"), team.id)
    _fill(rule_form, services.rule_for(team.id, None))
    status = 200
    if rule_form.validate_on_submit():
        try:
            services.save_rule(team.id, None, rule_form.rule_data())
        except Invalid as error:
            db.session.rollback()
            show_error(rule_form, error)
            status = 422
        else:
            flash("Assignment for all new leads saved.", "success")
            return redirect(url_for("settings_leads.forms"), 303)
    rows = db.session.scalars(scoped(LeadForm, team_id=team.id).order_by(LeadForm.name)).all()
    return render_template("leads/settings_forms.html", rows=rows, rule_form=rule_form), status


@settings_bp.route("/forms/new", methods=["GET", "POST"])
@admin_required
def form_new():
    return _edit(None)


@settings_bp.route("/forms/<id:form_id>", methods=["GET", "POST"])
@admin_required
def form_edit(form_id: int):
    return _edit(get_or_404(LeadForm, form_id))


def _edit(lead_form: LeadForm | None):
    team = current_team()
    form = _setup(LeadFormForm(obj=lead_form), team.id)
    if lead_form is not None and not form.is_submitted():
        form.source.data = lead_form.hidden.get("source")
        form.campaign.data = lead_form.hidden.get("campaign")
        form.allowed_origins.data = "\n".join(lead_form.allowed_origins)
        _fill(form, services.rule_for(team.id, lead_form.id))
    status = 200
    if form.validate_on_submit():
        try:
            lead_form = services.save_form(team.id, lead_form, form.form_data())
        except Invalid as error:
            db.session.rollback()
            show_error(form, error)
            status = 422
        else:
            flash("Form saved. Copy its snippet below.", "success")
            return redirect(url_for("settings_leads.form_edit", form_id=lead_form.id), 303)
    elif form.errors:
        status = 422
    return render_template(
        "leads/settings_form.html",
        form=form,
        lead_form=lead_form,
        url=public_url(lead_form) if lead_form else None,
        snippet=snippet(lead_form) if lead_form else None,
        counts=queries.submission_counts(team.id, lead_form.id) if lead_form else {},
        failed=queries.failed(team.id, lead_form.id) if lead_form else [],
        confirm=ConfirmForm(),
    ), status


@settings_bp.post("/forms/<id:form_id>/delete")
@admin_required
def form_delete(form_id: int):
    lead_form = get_or_404(LeadForm, form_id)
    if ConfirmForm().validate_on_submit():
        lead_form.active = False  # submissions and leads keep their history; the URL stops
        db.session.commit()
        flash("Form switched off: its page and snippet no longer accept posts.", "success")
    return redirect(url_for("settings_leads.forms"), 303)


@settings_bp.get("/spam")
@admin_required
def spam():
    return render_template(
        "leads/spam.html", rows=queries.spam(current_team().id), confirm=ConfirmForm()
    )


@settings_bp.post("/spam/<id:submission_id>/release")
@admin_required
def release(submission_id: int):
    submission = get_or_404(LeadSubmission, submission_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.release(submission, current_user.id)
        except Invalid as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            flash("Sent again: it becomes a lead in a moment.", "success")
    return redirect(back_url(url_for("settings_leads.spam")), 303)
