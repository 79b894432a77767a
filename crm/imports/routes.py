"""CSV and vCard import pages and the vCard of one contact (thin views)."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.errors import Forbidden, Invalid
from crm.extensions import db
from crm.htmx import hx_redirect, render, trigger, wants_partial
from crm.imports import bp, columns, runner, services
from crm.imports import export as contact_export
from crm.imports import revert as reverting
from crm.imports.forms import MappingForm, UploadForm
from crm.kernel import custom_fields, members
from crm.kernel.csvio import csv_response
from crm.kernel.filenames import content_disposition
from crm.kernel.forms import show_error
from crm.models import Contact, ImportJob, ImportStatus
from crm.security import current_membership, current_team, get_or_404, scoped


def _recent_imports():
    return db.session.scalars(
        scoped(ImportJob).order_by(ImportJob.created_at.desc(), ImportJob.id.desc()).limit(20)
    ).all()


@bp.route("/contacts/import", methods=["GET", "POST"])
def upload():
    form = UploadForm()
    if form.validate_on_submit():
        file = form.file.data
        try:
            job = services.create_import(
                current_team().id, current_user.id, file.filename, file.read(), form.kind.data
            )
        except Invalid as error:
            form.file.errors = [error.message]
        else:
            return redirect(url_for("imports.show", import_id=job.id), 303)
    return render_template(
        "imports/upload.html", form=form, imports=_recent_imports()
    ), 422 if form.errors else 200


def _mapping_context(job: ImportJob, form: MappingForm | None = None) -> dict:
    header, rows = services.preview(job)
    if form is None:
        form = MappingForm(policy=job.policy.value, dry_run=not job.dry_run)
    companies = job.kind != "contacts"  # companies or notes: no custom fields, no types
    custom = [] if companies else custom_fields.fields_for(job.team_id, "contact")
    mapping = dict(job.mapping or {})
    remembered = False
    if job.status == ImportStatus.MAPPING:
        remembered = services.remembered_mapping(job.team_id, header, job.kind) == job.mapping
        # A column named like a custom field maps to it, as built-in columns do by their names.
        labels = {f.label.strip().lower(): f"cf_{f.key}" for f in custom}
        for i, name in enumerate(header):
            target = labels.get((name or "").strip().lower())
            if target and str(i) not in mapping and target not in mapping.values():
                mapping[str(i)] = target
    # A column may also say what kind of email or phone another column holds (its "Type").
    type_of = {
        f"type_of:{i}": (f"Type of “{name}”", ())
        for i, name in enumerate(header)
        if not companies
        and (mapping.get(str(i)) in columns.MULTI or name.lower().endswith("value"))
    }
    fields = columns.KINDS[job.kind]
    left_out = [name or f"#{i + 1}" for i, name in enumerate(header) if str(i) not in mapping]
    return {
        "job": job,
        "form": form,
        "header": header,
        "rows": rows,
        "fields": fields | {f"cf_{f.key}": (f.label, ()) for f in custom} | type_of,
        "mapping": mapping,
        "remembered": remembered,
        "left_out": left_out,
    }


@bp.get("/contacts/import/<id:import_id>")
def show(import_id: int):
    job = get_or_404(ImportJob, import_id)
    if job.status == ImportStatus.MAPPING:
        return render_template("imports/mapping.html", **_mapping_context(job))
    # After a dry run the page offers the mapping again, to adjust it or run for real.
    context = _mapping_context(job) if job.dry_run and job.finished else {"job": job}
    return render("imports/show.html", "imports/_status.html", **context)


@bp.post("/contacts/import/<id:import_id>/start")
def start(import_id: int):
    job = get_or_404(ImportJob, import_id)
    header, _ = services.preview(job)
    form = MappingForm()
    mapping = {
        str(i): request.form.get(f"column-{i}", "")
        for i in range(len(header))
        if request.form.get(f"column-{i}")
    }
    if form.validate_on_submit():
        try:
            services.start(job, mapping, form.policy.data, form.dry_run.data)
        except Invalid as error:
            show_error(form, error)
        else:
            response = hx_redirect(url_for("imports.show", import_id=job.id))
            return trigger(response, "import-started", {"id": job.id})
    job.mapping = mapping  # show the choices again (not committed)
    context = _mapping_context(job, form)
    db.session.rollback()
    return render_template("imports/mapping.html", **context), 422


@bp.get("/contacts/import/<id:import_id>/errors.csv")
def error_report(import_id: int):
    job = get_or_404(ImportJob, import_id)
    return csv_response(f"import-{job.id}-errors.csv", *runner.error_report(job))


@bp.post("/contacts/import/<id:import_id>/revert")
def revert(import_id: int):
    job = get_or_404(ImportJob, import_id)
    if job.user_id != current_user.id and not members.can_manage(current_membership()):
        raise Forbidden("Only the person who ran this import, or an admin, can revert it.")
    counts = reverting.revert(job, current_user.id)
    if not wants_partial():
        flash(
            f"Import reverted: {counts['removed'] + counts['trashed']} contacts removed, "
            f"{counts['restored']} restored.",
            "success",
        )
        for kept in counts["kept"]:
            flash(
                f"{kept['name']} kept what was edited after the import: "
                f"{', '.join(kept['fields'])}.",
                "info",
            )
        return redirect(url_for("imports.show", import_id=job.id), 303)
    response = render("imports/show.html", "imports/_status.html", job=job, reverted=counts)
    return trigger(response, "import-reverted", {"id": job.id, **counts})


@bp.get("/contacts/<id:contact_id>/vcard")
def vcard(contact_id: int):
    contact = get_or_404(Contact, contact_id)
    return Response(
        contact_export.vcard(contact),
        mimetype="text/vcard",
        headers={"Content-Disposition": content_disposition(f"{contact.name}.vcf", "contact")},
    )
