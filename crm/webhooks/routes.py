"""The webhook settings tab (admins): list and register, edit, secret, pause, delivery log."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from crm.errors import Invalid
from crm.extensions import db
from crm.htmx import render
from crm.kernel.forms import show_error
from crm.kernel.ids import parse_id
from crm.models import Webhook, WebhookDelivery
from crm.security import admin_required, current_team, get_or_404, scoped
from crm.webhooks import bp, services
from crm.webhooks.forms import ActiveForm, ConfirmForm, WebhookForm

PAGE = 50


def _form(webhook: Webhook | None = None, *, empty: bool = False) -> WebhookForm:
    form = WebhookForm(formdata=None, obj=webhook) if empty else WebhookForm(obj=webhook)
    form.events.choices = [(name, name) for name in services.event_names()]
    return form


def _list(form: WebhookForm, status: int = 200, secret_for: Webhook | None = None, secret=None):
    hooks = db.session.scalars(scoped(Webhook).order_by(Webhook.id)).all()
    return render_template(
        "webhooks/index.html", hooks=hooks, form=form, new_hook=secret_for, secret=secret
    ), status


@bp.get("")
@admin_required
def index():
    return _list(_form())


@bp.post("")
@admin_required
def create():
    form = _form()
    if form.validate_on_submit():
        try:
            webhook, secret = services.create_webhook(
                current_team().id,
                current_user.id,
                url=form.url.data,
                events=form.events.data,
                description=form.description.data,
            )
        except Invalid as error:
            show_error(form, error)
        else:
            # The secret is shown this once, so the answer is a page, not a redirect.
            return _list(_form(empty=True), 201, webhook, secret)
    return _list(form, 422)


def _deliveries(webhook: Webhook, before: int | None):
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.team_id == webhook.team_id, WebhookDelivery.webhook_id == webhook.id
    )
    if before:
        stmt = stmt.where(WebhookDelivery.id < before)
    rows = db.session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(PAGE + 1)).all()
    return rows[:PAGE], (rows[PAGE - 1].id if len(rows) > PAGE else None)


def _show(webhook: Webhook, form: WebhookForm | None = None, status: int = 200, secret=None):
    rows, next_before = _deliveries(webhook, request.args.get("before", type=parse_id))
    return render(
        "webhooks/show.html",
        "webhooks/_deliveries.html",
        http_status=status,
        webhook=webhook,
        form=form or _form(webhook),
        rows=rows,
        next_before=next_before,
        secret=secret,
        masked=services.masked(webhook.secret),
        confirm=ConfirmForm(),
        active_form=ActiveForm(),
    )


@bp.get("/<id:webhook_id>")
@admin_required
def show(webhook_id: int):
    webhook = get_or_404(Webhook, webhook_id)
    return _show(webhook, _form(webhook, empty=True))


@bp.post("/<id:webhook_id>")
@admin_required
def update(webhook_id: int):
    webhook = get_or_404(Webhook, webhook_id)
    form = _form(webhook)
    if form.validate_on_submit():
        try:
            services.update_webhook(
                webhook,
                url=form.url.data,
                events=form.events.data,
                description=form.description.data,
            )
        except Invalid as error:
            db.session.rollback()
            show_error(form, error)
        else:
            flash("Webhook saved.", "success")
            return redirect(url_for("webhooks.show", webhook_id=webhook.id), 303)
    return _show(webhook, form, 422)


@bp.post("/<id:webhook_id>/secret")
@admin_required
def regenerate(webhook_id: int):
    webhook = get_or_404(Webhook, webhook_id)
    if not ConfirmForm().validate_on_submit():
        return _show(webhook, status=400)
    secret = services.regenerate_secret(webhook)
    return _show(webhook, secret=secret)


@bp.post("/<id:webhook_id>/active")
@admin_required
def set_active(webhook_id: int):
    webhook = get_or_404(Webhook, webhook_id)
    form = ActiveForm()
    if not form.validate_on_submit() or form.active.data not in ("0", "1"):
        return _show(webhook, status=400)
    services.set_active(webhook, form.active.data == "1")
    flash("Webhook resumed." if webhook.active else "Webhook paused.", "success")
    return redirect(url_for("webhooks.show", webhook_id=webhook.id), 303)


@bp.post("/<id:webhook_id>/delete")
@admin_required
def delete(webhook_id: int):
    webhook = get_or_404(Webhook, webhook_id)
    if not ConfirmForm().validate_on_submit():
        return _show(webhook, status=400)
    services.delete_webhook(webhook)
    flash("Webhook deleted.", "success")
    return redirect(url_for("webhooks.index"), 303)


@bp.post("/<id:webhook_id>/deliveries/<id:delivery_id>/redeliver")
@admin_required
def redeliver(webhook_id: int, delivery_id: int):
    webhook = get_or_404(Webhook, webhook_id)
    row = get_or_404(WebhookDelivery, delivery_id)
    if row.webhook_id != webhook.id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        return _show(webhook, status=400)
    try:
        services.redeliver(row)
    except Invalid as error:
        flash(error.message, "error")
    else:
        flash("Queued again: the log shows the outcome in a moment.", "success")
    return redirect(url_for("webhooks.show", webhook_id=webhook.id), 303)
