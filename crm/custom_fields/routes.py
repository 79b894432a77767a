"""Custom fields: the admin settings tab and inline editing of values on records (thin)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.custom_fields import bp, values_bp
from crm.custom_fields import services as fields
from crm.custom_fields.forms import EditFieldForm, FieldForm
from crm.errors import Invalid
from crm.extensions import db
from crm.htmx import render, trigger
from crm.kernel import custom_fields as values
from crm.kernel import members as team_members
from crm.kernel.forms import show_error
from crm.models import Company, Contact, CustomField, Deal
from crm.security import admin_required, current_team, get_or_404, scoped

MODELS = {"contact": Contact, "company": Company, "deal": Deal}


def _settings_page(form: FieldForm, status: int = 200):
    team = current_team()
    everything = db.session.scalars(
        scoped(CustomField).order_by(CustomField.entity, CustomField.position, CustomField.id)
    ).all()
    trash = db.session.scalars(
        scoped(CustomField, with_deleted=True)
        .where(CustomField.deleted_at.is_not(None))
        .order_by(CustomField.deleted_at.desc())
    ).all()
    groups = {entity: [f for f in everything if f.entity == entity] for entity in MODELS}
    return render_template(
        "custom_fields/settings.html", form=form, groups=groups, trash=trash, team=team
    ), status


@bp.route("", methods=["GET", "POST"])
@admin_required
def index():
    form = FieldForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            field = fields.create_field(current_team().id, form.data, current_user.id)
        except Invalid as error:
            show_error(form, error)
        else:
            return redirect(url_for("custom_fields.index", added=field.id), 303)
    return _settings_page(form, 422 if request.method == "POST" else 200)


@bp.route("/<id:field_id>", methods=["GET", "POST"])
@admin_required
def edit(field_id: int):
    field = get_or_404(CustomField, field_id)
    form = EditFieldForm(obj=field)
    if request.method == "GET":
        form.options.data = "\n".join(o["label"] for o in field.options)
    form.move_to.choices = [("", "Clear the value")] + [
        (o["label"], f"Move to {o['label']}") for o in field.options
    ]
    removed = []
    if request.method == "POST" and form.validate_on_submit():
        removed = fields.removed_options(field, form.options.data)
        # Removing an option asks first what happens to the records that have it.
        if removed and "confirm" not in request.form:
            kept = [line.strip() for line in (form.options.data or "").splitlines() if line.strip()]
            form.move_to.choices = [("", "Clear the value")] + [
                (label, f"Move to {label}") for label in kept
            ]
            return render_template(
                "custom_fields/edit.html", form=form, field=field, removed=removed, ask=True
            ), 200
        try:
            fields.update_field(field, form.data, current_user.id, move_to=form.move_to.data)
        except Invalid as error:
            show_error(form, error)
        else:
            return redirect(url_for("custom_fields.index"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "custom_fields/edit.html", form=form, field=field, removed=removed, ask=False
    ), status


@bp.post("/<id:field_id>/move")
@admin_required
def move(field_id: int):
    field = get_or_404(CustomField, field_id)
    fields.move_field(field, -1 if request.form.get("direction") == "up" else 1)
    return redirect(url_for("custom_fields.index"), 303)


@bp.post("/<id:field_id>/delete")
@admin_required
def delete(field_id: int):
    field = get_or_404(CustomField, field_id)
    fields.delete_field(field, current_user.id)
    return redirect(url_for("custom_fields.index"), 303)


@bp.post("/<id:field_id>/restore")
@admin_required
def restore(field_id: int):
    field = get_or_404(CustomField, field_id, with_deleted=True)
    try:
        fields.restore_field(field, current_user.id)
    except Invalid as error:
        flash(error.message, "error")
    return redirect(url_for("custom_fields.index"), 303)


# --- values on records ---------------------------------------------------------------------------


def _field_and_record(field_id: int, record_id: int):
    field = get_or_404(CustomField, field_id)
    record = get_or_404(MODELS[field.entity], record_id)
    return field, record


def _value_context(field, record, **extra) -> dict:
    value = values.read(record.team_id, field.entity, [record.id], [field]).get(record.id, {})
    value = value.get(field.id)
    return {
        "field": field,
        "record": record,
        "value": value,
        "shown": values.show(field, value),
        "raw": values.raw_for_input(field, value),
        "people": team_members.members(record.team_id) if field.type == "member" else [],
        **extra,
    }


@values_bp.get("/<id:field_id>/<id:record_id>")
def value(field_id: int, record_id: int):
    field, record = _field_and_record(field_id, record_id)
    return render_template("custom_fields/_value.html", **_value_context(field, record))


@values_bp.get("/<id:field_id>/<id:record_id>/edit")
def edit_value(field_id: int, record_id: int):
    field, record = _field_and_record(field_id, record_id)
    return render_template("custom_fields/_value_edit.html", **_value_context(field, record))


@values_bp.post("/<id:field_id>/<id:record_id>")
def save_value(field_id: int, record_id: int):
    field, record = _field_and_record(field_id, record_id)
    given = (
        request.form.getlist("value")
        if field.type == "multi_select"
        else request.form.get("value", "")
    )
    try:
        changed = fields.set_value(record, field, given, current_user.id)
    except Invalid as error:
        db.session.rollback()
        context = _value_context(field, record, error=error.message)
        context["raw"] = ",".join(given) if isinstance(given, list) else given
        return render_template("custom_fields/_value_edit.html", **context), 422
    response = render(
        "custom_fields/_value.html", "custom_fields/_value.html", **_value_context(field, record)
    )
    return trigger(response, "field-changed") if changed else response


@values_bp.app_context_processor
def _record_fields():
    def custom_fields_for(record):
        """[(section, [(field, value, shown)])] of a contact, company or deal."""
        entity = type(record).__tablename__
        defined = values.fields_for(record.team_id, entity)
        found = values.read(record.team_id, entity, [record.id], defined).get(record.id, {})
        sections: dict[str, list] = {}
        for field in defined:
            value = found.get(field.id)
            sections.setdefault(field.section or "", []).append(
                (field, value, values.show(field, value))
            )
        return list(sections.items())

    def custom_list_fields(entity: str):
        """The fields a list of `entity` can filter, sort and show as columns."""
        return values.fields_for(current_team().id, entity)

    def custom_columns(entity: str, keys):
        """The custom fields chosen as a list's columns (`cols=`), in the chosen order."""
        keys = list(keys or ())
        if not keys:
            return []
        chosen = [f for f in values.fields_for(current_team().id, entity) if f.key in keys]
        return sorted(chosen, key=lambda f: keys.index(f.key))

    def custom_cells(entity: str, records, keys):
        """{record_id: [(field, shown)]} of the custom columns chosen for a list page."""
        if not keys or not records:
            return {}
        chosen = custom_columns(entity, keys)
        found = values.read(current_team().id, entity, [r.id for r in records], chosen)
        return {
            r.id: [(f, values.show(f, found.get(r.id, {}).get(f.id))) for f in chosen]
            for r in records
        }

    return {
        "custom_fields_for": custom_fields_for,
        "custom_list_fields": custom_list_fields,
        "custom_cells": custom_cells,
        "custom_columns": custom_columns,
        "custom_operators": values.OPERATORS,
        "custom_sortable": values.SORTABLE,
    }
