"""Email out views: compose from a contact, company or deal; templates; unsubscribe."""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.contacts.queries import ContactFilters
from crm.errors import Invalid
from crm.extensions import csrf, db
from crm.htmx import render
from crm.kernel.forms import show_error
from crm.kernel.ids import parse_id
from crm.models import (
    BulkRecipient,
    BulkSend,
    Company,
    Contact,
    Deal,
    EmailTemplate,
    Enrolment,
    OutboundEmail,
    Sequence,
    Tag,
)
from crm.outbound import bp, bulk, sequences, services
from crm.outbound.forms import (
    STEP_KINDS,
    BulkForm,
    ComposeForm,
    EnrolForm,
    PreviewForm,
    SenderForm,
    SequenceForm,
    TemplateForm,
    step_fields,
)
from crm.security import admin_required, current_team, get_or_404, public, scoped

PEOPLE_LIMIT = 200
RESULT_LIMIT = 500

SHOW_ENDPOINT = {"contact": "contacts.show", "company": "companies.show", "deal": "deals.show"}


@bp.app_context_processor
def _globals():
    return {"outbound_row": _outbound_row}


def _outbound_row(activity) -> OutboundEmail | None:
    """The outbox row of a mail sent from Rapport, for its status on the timeline entry."""
    outbox_id = (activity.data or {}).get("outbox_id")
    if not outbox_id:
        return None
    return db.session.scalar(
        scoped(OutboundEmail, team_id=activity.team_id).where(OutboundEmail.id == outbox_id)
    )


def _people(kind: str, record) -> list[Contact]:
    """Who a mail from this record can go to: the record's people with an address."""
    if kind == "contact":
        people = [record]
        if record.company_id:
            people += db.session.scalars(
                scoped(Contact)
                .where(Contact.company_id == record.company_id, Contact.id != record.id)
                .order_by(Contact.sort_name)
                .limit(PEOPLE_LIMIT)
            ).all()
    elif kind == "company":
        people = db.session.scalars(
            scoped(Contact)
            .where(Contact.company_id == record.id)
            .order_by(Contact.sort_name)
            .limit(PEOPLE_LIMIT)
        ).all()
    else:
        people = [c for c in record.contacts if c.deleted_at is None]
    return [p for p in people if p.primary_email]


def _compose(kind: str, record):
    team = current_team()
    people = _people(kind, record)
    form = ComposeForm()
    form.sender.choices = services.senders(team, current_user)
    choices = [(p.id, f"{p.name} <{p.primary_email}>") for p in people]
    form.to.choices = form.cc.choices = choices
    templates = services.templates_for(team.id, current_user)
    status = 200
    if request.method == "GET":
        default = people[0].id if people and kind == "contact" else None
        form.to.data = [default] if default else []
        chosen = request.args.get("template", type=parse_id)
        template = next((t for t in templates if t.id == chosen), None)
        if template is not None:
            form.subject.data, form.body.data = template.subject, template.body
    elif form.validate_on_submit():
        try:
            services.compose(
                team=team,
                author=current_user,
                to_ids=form.to.data or [],
                cc_ids=form.cc.data or [],
                subject=form.subject.data,
                body=form.body.data,
                sender=form.sender.data,
                company_id=record.id if kind == "company" else None,
                deal_id=record.id if kind == "deal" else None,
                files=[
                    services.Upload(f.filename or "", f.mimetype, f.read())
                    for f in request.files.getlist(form.attachments.name)
                    if f and (f.filename or f.content_length)
                ],
            )
        except Invalid as error:
            show_error(form, error)
            status = 422
        else:
            return redirect(url_for(SHOW_ENDPOINT[kind], **{f"{kind}_id": record.id}), 303)
    else:
        status = 422
    back = url_for(SHOW_ENDPOINT[kind], **{f"{kind}_id": record.id})
    config = current_app.config
    return render(
        "outbound/compose.html",
        "outbound/_compose_form.html",
        http_status=status,
        form=form,
        record=record,
        kind=kind,
        name=record.name if kind != "deal" else record.title,
        back=back,
        templates=templates,
        has_people=bool(people),
        file_limits=(
            services.size_label(config["OUTBOUND_MAX_ATTACHMENT_BYTES"]),
            services.size_label(config["OUTBOUND_MAX_ATTACHMENTS_BYTES"]),
        ),
    )


@bp.route("/contacts/<id:contact_id>/email", methods=["GET", "POST"])
def compose_contact(contact_id: int):
    return _compose("contact", get_or_404(Contact, contact_id))


@bp.route("/companies/<id:company_id>/email", methods=["GET", "POST"])
def compose_company(company_id: int):
    return _compose("company", get_or_404(Company, company_id))


@bp.route("/deals/<id:deal_id>/email", methods=["GET", "POST"])
def compose_deal(deal_id: int):
    return _compose("deal", get_or_404(Deal, deal_id))


# Templates ------------------------------------------------------------------------------


def _own_template(template_id: int) -> EmailTemplate:
    """A team template or one of mine; a teammate's personal template is a 404 like any other."""
    template = get_or_404(EmailTemplate, template_id)
    if template.owner_id not in (None, current_user.id):
        abort(404)
    return template


@bp.route("/email/templates", methods=["GET", "POST"])
def templates():
    team = current_team()
    form = TemplateForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                template = services.save_template(
                    team_id=team.id,
                    user=current_user,
                    name=form.name.data,
                    subject=form.subject.data,
                    body=form.body.data,
                    personal=form.personal.data,
                )
            except Invalid as error:
                show_error(form, error)
            else:
                return redirect(url_for("outbound.template", template_id=template.id), 303)
    return render(
        "outbound/templates.html",
        "outbound/_template_form.html",
        http_status=status,
        form=form,
        template=None,
        templates=services.templates_for(team.id, current_user),
    )


@bp.route("/email/templates/<id:template_id>", methods=["GET", "POST"])
def template(template_id: int):
    template = _own_template(template_id)
    form = TemplateForm(obj=template)
    if request.method == "GET":
        form.personal.data = template.owner_id is not None
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                services.save_template(
                    team_id=template.team_id,
                    user=current_user,
                    name=form.name.data,
                    subject=form.subject.data,
                    body=form.body.data,
                    personal=form.personal.data,
                    template=template,
                )
            except Invalid as error:
                db.session.rollback()
                show_error(form, error)
            else:
                return redirect(url_for("outbound.template", template_id=template.id), 303)
    return render(
        "outbound/template.html",
        "outbound/_template_form.html",
        http_status=status,
        form=form,
        template=template,
        preview_form=_preview_form(),
    )


@bp.route("/email/templates/<id:template_id>/delete", methods=["POST"])
def delete_template(template_id: int):
    services.delete_template(_own_template(template_id))
    return redirect(url_for("outbound.templates"), 303)


def _preview_form() -> PreviewForm:
    form = PreviewForm(request.args)
    people = db.session.scalars(
        scoped(Contact).order_by(Contact.last_activity_at.desc(), Contact.id.desc()).limit(50)
    ).all()
    form.contact_id.choices = [(0, "Sample data")] + [(p.id, p.name) for p in people]
    return form


@bp.route("/email/templates/<id:template_id>/preview")
def preview(template_id: int):
    template = _own_template(template_id)
    contact_id = request.args.get("contact_id", type=parse_id) or None
    contact = get_or_404(Contact, contact_id) if contact_id else None
    try:
        result, error = services.preview(template, contact), None
    except Invalid as problem:
        result, error = None, problem.message
    return render(
        "outbound/preview.html",
        "outbound/_preview.html",
        template=template,
        result=result,
        error=error,
        preview_form=_preview_form(),
    )


# Unsubscribe: public, signed ---------------------------------------------------------------


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf.exempt  # RFC 8058: the mail provider POSTs without a session; the signed token decides
def unsubscribe(token: str):
    if services.read_unsubscribe_token(token) is None:
        abort(404)
    if request.method == "POST":
        if services.unsubscribe(token) is None:
            abort(404)
        return render_template("outbound/unsubscribed.html"), 200
    return render_template("outbound/unsubscribe.html", token=token)


# Bulk send ------------------------------------------------------------------------------


def _filters() -> ContactFilters:
    """The audience: the contact list's filters (from its "Email these" link), or a tag."""
    return ContactFilters.from_args(request.values)


def _audience_label(filters: ContactFilters) -> str:
    args = filters.args(sort=None)
    if not args:
        return "All contacts"
    if list(args) == ["tag"]:
        tag = db.session.scalar(scoped(Tag).where(Tag.id == filters.tag))
        return f"Tagged “{tag.name}”" if tag else "Tagged"
    return "Contacts matching " + ", ".join(f"{k}={v}" for k, v in args.items())


@bp.route("/email/bulk", methods=["GET", "POST"])
def bulk_compose():
    team = current_team()
    form = BulkForm()
    tags = db.session.scalars(scoped(Tag).order_by(Tag.name)).all()
    form.tag.choices = [(0, "— the filter from the contact list —")] + [
        (t.id, t.name) for t in tags
    ]
    lists = bulk.saved_lists(team.id, current_user.id)
    form.view.choices = [(0, "—")] + [
        (v.id, f"{v.name} (shared)" if v.shared else v.name) for v in lists
    ]
    templates = services.templates_for(team.id, current_user)
    form.template.choices = [(0, "—")] + [(t.id, t.name) for t in templates]
    filters, label = _filters(), None
    if request.method == "GET" and (view_id := request.args.get("view", type=parse_id)):
        form.view.data = view_id
    view = next((v for v in lists if v.id == form.view.data), None)
    if form.view.data and view is None:
        abort(404)  # not a list this member can see: another team's, a teammate's personal
    if view is not None:
        filters, label = bulk.saved_list_filters(view), f"Saved list “{view.name}”"
        form.tag.data = 0
    elif form.tag.data:
        if form.tag.data not in {t.id for t in tags}:
            abort(404)  # not one of this team's tags (or not an id at all)
        filters = ContactFilters(tag=form.tag.data)
    elif request.method == "GET":
        form.tag.data = filters.tag if filters.args(sort=None).keys() == {"tag"} else 0
    label = label or _audience_label(filters)
    chosen = next((t for t in templates if t.id == form.template.data), None)
    if request.method == "GET" and chosen is not None:
        form.subject.data, form.body.data = chosen.subject, chosen.body
    result, status = None, 200
    if request.method == "POST" and form.validate_on_submit():
        try:
            if request.form.get("action") == "send":
                sent = bulk.start(
                    team=team,
                    author=current_user,
                    filters=filters,
                    label=label,
                    subject=form.subject.data,
                    body=form.body.data,
                )
                return redirect(url_for("outbound.bulk_show", bulk_id=sent.id), 303)
            result = bulk.preview(team, filters, form.subject.data, form.body.data)
        except Invalid as error:
            show_error(form, error)
            status = 422
    elif request.method == "POST":
        status = 422
    return render(
        "outbound/bulk.html",
        "outbound/_bulk_form.html",
        http_status=status,
        form=form,
        filters=filters,
        form_args={"view": view.id} if view is not None else filters.args(),
        label=label,
        result=result,
    )


@bp.route("/email/bulk/<id:bulk_id>")
def bulk_show(bulk_id: int):
    sent = get_or_404(BulkSend, bulk_id)
    recipients = db.session.scalars(
        select(BulkRecipient)
        .where(BulkRecipient.bulk_send_id == sent.id)
        .options(selectinload(BulkRecipient.outbox))
        .order_by(BulkRecipient.skipped.is_(None), BulkRecipient.id)
        .limit(RESULT_LIMIT)
    ).all()
    return render(
        "outbound/bulk_show.html",
        "outbound/_bulk_progress.html",
        bulk=sent,
        progress=bulk.progress(sent),
        recipients=recipients,
        limit=RESULT_LIMIT,
    )


# Sequences ------------------------------------------------------------------------------

STEP_ROWS = 4


@bp.route("/email/sequences", methods=["GET", "POST"])
def sequences_index():
    team = current_team()
    form = SequenceForm()
    templates = [t for t in services.templates_for(team.id, current_user) if t.owner_id is None]
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            steps = []
            for n in range(1, STEP_ROWS + 1):
                names = step_fields(n)
                kind = request.form.get(names["kind"])
                if not kind:
                    continue
                steps.append(
                    {
                        "kind": kind,
                        "template_id": request.form.get(names["template_id"], type=parse_id),
                        "task_title": request.form.get(names["task_title"], ""),
                        "delay_days": request.form.get(names["delay_days"], 0, type=parse_id),
                    }
                )
            try:
                sequence = sequences.create(team.id, form.name.data, steps)
            except Invalid as error:
                db.session.rollback()
                show_error(form, error)
            else:
                return redirect(url_for("outbound.sequence", sequence_id=sequence.id), 303)
    listed = db.session.scalars(scoped(Sequence).order_by(Sequence.name)).all()
    return render(
        "outbound/sequences.html",
        "outbound/_sequence_form.html",
        http_status=status,
        form=form,
        sequences=listed,
        templates=templates,
        rows=[(n, step_fields(n)) for n in range(1, STEP_ROWS + 1)],
        kinds=STEP_KINDS,
    )


def _enrol_form() -> EnrolForm:
    form = EnrolForm()
    people = db.session.scalars(scoped(Contact).order_by(Contact.sort_name).limit(500)).all()
    form.contact_id.choices = [(0, "—")] + [(p.id, p.name) for p in people]
    tags = db.session.scalars(scoped(Tag).order_by(Tag.name)).all()
    form.tag.choices = [(0, "—")] + [(t.id, t.name) for t in tags]
    return form


@bp.route("/email/sequences/<id:sequence_id>", methods=["GET", "POST"])
def sequence(sequence_id: int):
    found = get_or_404(Sequence, sequence_id)
    form = _enrol_form()
    enrolled = None
    if request.method == "POST" and form.validate_on_submit():
        ids = [form.contact_id.data] if form.contact_id.data else []
        if form.tag.data:
            ids += [c.id for c in bulk.audience(found.team_id, ContactFilters(tag=form.tag.data))]
        enrolled = sequences.enrol(found, ids, current_user)
    enrolments = db.session.scalars(
        scoped(Enrolment)
        .where(Enrolment.sequence_id == found.id)
        .options(selectinload(Enrolment.contact))
        .order_by(Enrolment.id)
        .limit(RESULT_LIMIT)
    ).all()
    return render(
        "outbound/sequence.html",
        "outbound/_enrolments.html",
        sequence=found,
        form=form,
        enrolments=enrolments,
        enrolled=enrolled,
    )


# Settings -------------------------------------------------------------------------------


@bp.route("/settings/email-out", methods=["GET", "POST"])
@admin_required
def settings():
    team = current_team()
    form = SenderForm()
    status = 200
    if request.method == "GET":
        form.sender.data = team.outbound_sender or ""
    elif form.validate_on_submit():
        try:
            services.set_team_sender(team, form.sender.data)
        except Invalid as error:
            show_error(form, error)
            status = 422
        else:
            return redirect(url_for("outbound.settings"), 303)
    else:
        status = 422
    return render(
        "outbound/settings.html",
        "outbound/_settings_form.html",
        http_status=status,
        form=form,
        rate=bulk.rate_per_minute(team.id),
    )
