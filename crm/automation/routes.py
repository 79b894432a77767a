"""The automation settings tab (admins): rules, their form, the dry run and the run log."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from crm.automation import bp, catalogue, rules
from crm.automation.forms import ConfirmForm, RuleForm, TryForm
from crm.errors import Invalid
from crm.extensions import db
from crm.htmx import render
from crm.kernel import members
from crm.kernel.forms import show_error
from crm.models import AutomationRule, Pipeline, Stage
from crm.security import admin_required, current_team, get_or_404, scoped
from crm.webhooks import services as webhooks


def _form(rule: AutomationRule | None = None) -> RuleForm:
    if request.method == "POST":
        form = RuleForm()
    elif rule is not None:
        form = RuleForm(formdata=MultiDict(rules.as_form_data(rule)))
    else:
        form = RuleForm(formdata=None)
    team_id = current_team().id
    stages = db.session.execute(
        select(Stage.id, Stage.name, Pipeline.name)
        .join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .where(Stage.team_id == team_id)
        .order_by(Pipeline.name, Stage.position)
    ).all()
    stage_choices = [(str(i), f"{p} · {s}") for i, s, p in stages]
    people = [(str(i), n) for i, n in members.choices(team_id)]
    hooks = [(str(i), label) for i, label in webhooks.choices(team_id)]
    form.trigger_stage.choices = [("", "Any stage")] + stage_choices
    for i in range(rules.ACTION_ROWS):
        getattr(form, f"act_stage_{i}").choices = [("", "—")] + stage_choices
        getattr(form, f"act_user_{i}").choices = [("", "The record's owner")] + people
        getattr(form, f"act_pool_{i}").choices = people
        getattr(form, f"act_webhook_{i}").choices = [("", "—")] + hooks
    return form


def _posted() -> dict:
    """The form's fields as plain values; the round-robin pickers keep every member chosen."""
    data = request.form.to_dict()
    for i in range(rules.ACTION_ROWS):
        data[f"act_pool_{i}"] = request.form.getlist(f"act_pool_{i}")
    return data


def _index(form: RuleForm, http_status: int = 200):
    rows = db.session.scalars(scoped(AutomationRule).order_by(AutomationRule.id)).all()
    return render_template(
        "automation/index.html",
        rules=rows,
        form=form,
        runs=rules.recent_runs(),
        catalogue=catalogue,
        max_depth=catalogue.MAX_DEPTH,
    ), http_status


@bp.get("")
@admin_required
def index():
    return _index(_form())


@bp.post("")
@admin_required
def create():
    form = _form()
    if form.validate_on_submit():
        try:
            rule = rules.create_rule(current_team().id, current_user.id, _posted())
        except Invalid as error:
            show_error(form, error)
        else:
            flash(f"Rule “{rule.name}” saved.", "success")
            return redirect(url_for("automation.show", rule_id=rule.id), 303)
    return _index(form, 422)


def _show(rule, form=None, try_form=None, result=None, http_status=200):
    return render(
        "automation/show.html",
        "automation/_runs.html",
        http_status=http_status,
        rule=rule,
        form=form or _form(rule),
        try_form=try_form or TryForm(formdata=None),
        confirm=ConfirmForm(),
        result=result,
        runs=rules.recent_runs(rule),
        catalogue=catalogue,
        max_depth=catalogue.MAX_DEPTH,
    )


@bp.get("/<id:rule_id>")
@admin_required
def show(rule_id: int):
    return _show(get_or_404(AutomationRule, rule_id))


@bp.post("/<id:rule_id>")
@admin_required
def update(rule_id: int):
    rule = get_or_404(AutomationRule, rule_id)
    form = _form(rule)
    if form.validate_on_submit():
        try:
            rules.update_rule(rule, _posted())
        except Invalid as error:
            db.session.rollback()
            show_error(form, error)
        else:
            flash("Rule saved.", "success")
            return redirect(url_for("automation.show", rule_id=rule.id), 303)
    return _show(rule, form=form, http_status=422)


@bp.get("/<id:rule_id>/try")
@admin_required
def dry_run(rule_id: int):
    """Read-only, so a GET: the result can be reloaded and linked."""
    rule = get_or_404(AutomationRule, rule_id)
    try_form = TryForm(request.args, meta={"csrf": False})
    result = None
    if try_form.validate():
        try:
            result = rules.dry_run(rule, try_form.record_id.data)
        except Invalid as error:
            show_error(try_form, error)
    return _show(rule, try_form=try_form, result=result, http_status=200 if result else 422)


@bp.post("/<id:rule_id>/active")
@admin_required
def toggle(rule_id: int):
    rule = get_or_404(AutomationRule, rule_id)
    if ConfirmForm().validate_on_submit():
        rules.set_active(rule, request.form.get("active") == "1")
    return redirect(url_for("automation.show", rule_id=rule.id), 303)


@bp.post("/<id:rule_id>/delete")
@admin_required
def delete(rule_id: int):
    rule = get_or_404(AutomationRule, rule_id)
    if ConfirmForm().validate_on_submit():
        rules.delete_rule(rule)
        flash("Rule deleted.", "success")
    return redirect(url_for("automation.index"), 303)
