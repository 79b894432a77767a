"""Contact pages (thin views): list with filters and bulk actions, create, show, edit, trash."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.contacts import bp
from crm.contacts import services as contacts
from crm.contacts.export import export_header, export_rows
from crm.contacts.forms import BulkForm, ContactForm, FilterForm
from crm.contacts.queries import SORTS, ContactFilters, contact_page
from crm.errors import Invalid
from crm.extensions import db
from crm.htmx import render, trigger, wants_partial
from crm.kernel import companies as kernel_companies
from crm.kernel import custom_fields
from crm.kernel import members as team_members
from crm.kernel.csvio import csv_response
from crm.kernel.forms import show_error
from crm.kernel.ids import parse_id, parse_ids
from crm.kernel.urls import safe_url
from crm.models import Company, Contact, Tag, User
from crm.security import current_team, get_or_404, scoped


def _filter_form(filters: ContactFilters, people: list[User]) -> FilterForm:
    form = FilterForm(formdata=None)
    form.q.data = filters.q
    form.owner.choices = [("", "Anyone"), ("0", "Nobody")] + [(str(u.id), u.name) for u in people]
    form.owner.data = "" if filters.owner is None else str(filters.owner)
    tags = db.session.scalars(scoped(Tag).order_by(Tag.name).limit(500)).all()
    form.tag.choices = [("", "Any tag")] + [(str(t.id), t.name) for t in tags]
    form.tag.data = str(filters.tag or "")
    form.stage.data = filters.stage or ""
    form.idle.data = str(filters.idle or "")
    form.sort.choices = list(SORTS.items()) + custom_fields.sort_choices(
        custom_fields.fields_for(current_team().id, "contact")
    )
    form.sort.data = filters.sort
    return form


@bp.get("")
def index():
    team = current_team()
    filters = ContactFilters.from_args(request.args)
    page = contact_page(team.id, filters, cursor=request.args.get("after"))
    context = {"listing": page, "filters": filters}
    # One URL feeds two regions (the results, the next page); anything else, including
    # htmx's history restore (no HX-Target), gets the whole page.
    region = request.headers.get("HX-Target") if wants_partial() else None
    if region == "contacts-more":
        return render("contacts/index.html", "contacts/_rows.html", **context)
    people = team_members.members(current_team().id)
    bulk = BulkForm(formdata=None)
    bulk.owner_value.choices = [(0, "Nobody")] + [(u.id, u.name) for u in people]
    company = (
        db.session.scalars(scoped(Company).where(Company.id == filters.company)).first()
        if filters.company
        else None
    )
    deleted = None
    if (deleted_id := parse_id(request.args.get("deleted"))) is not None:
        deleted = db.session.scalars(
            scoped(Contact, with_deleted=True).where(
                Contact.id == deleted_id, Contact.deleted_at.is_not(None)
            )
        ).first()
    response = render(
        "contacts/index.html",
        "contacts/_results.html" if region == "contact-results" else "contacts/index.html",
        form=_filter_form(filters, people),
        bulk=bulk,
        company=company,
        deleted=deleted,
        # The results region brings the Export link along: the file follows the filters.
        export_oob=region == "contact-results",
        **context,
    )
    response.vary.add("HX-Target")
    return response


@bp.get("/export.csv")
def export():
    """The list as a CSV file: the same filters and sort give the same contacts, in order."""
    filters = ContactFilters.from_args(request.args)
    team_id = current_team().id
    return csv_response("contacts.csv", export_header(team_id), export_rows(team_id, filters))


@bp.post("/bulk")
def bulk():
    form = BulkForm()
    form.owner_value.choices = team_members.choices(current_team().id, first=[(0, "Nobody")])
    action = form.action.data
    value = {
        "tag": form.tag_value.data,
        "owner": form.owner_value.data,
        "stage": form.stage_value.data,
    }.get(action)
    ids = parse_ids(request.form.getlist("ids"))
    count = contacts.bulk_update(current_team().id, current_user.id, ids, action, value)
    verb = {
        "tag": "tagged",
        "owner": "reassigned",
        "stage": "moved to a new stage",
        "delete": "moved to the trash (restore them from the trash)",
    }[action]
    flash(f"{count} contact{'s' if count != 1 else ''} {verb}.", "success")
    response = redirect(safe_url(request.form.get("next"), url_for("contacts.index")), 303)
    return trigger(response, "contacts-changed", {"count": count, "action": action})


def _save(form: ContactForm, contact: Contact | None):
    """Validate, resolve the company by name, call the service; None on success."""
    if not form.validate_on_submit():
        return None
    team = current_team()
    data = form.to_data()
    try:
        company_name = (form.company_name.data or "").strip()
        if contact is None or company_name != (contact.company.name if contact.company else ""):
            company = kernel_companies.find_or_create(team.id, current_user.id, company_name)
            data["company_id"] = company.id if company else None
        if contact is None:
            return contacts.create_contact(team.id, current_user.id, data)
        return contacts.update_contact(contact, current_user.id, data)
    except Invalid as error:
        db.session.rollback()
        show_error(form, error)
        existing = getattr(error, "existing_contact_id", None)
        if existing:
            form.existing_contact_id = existing
            form.existing_in_trash = getattr(error, "existing_in_trash", False)
        return None


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = ContactForm()
    form.prepare(team_members.members(current_team().id))
    if request.method == "GET":
        form.owner_id.data = current_user.id  # new contacts are yours unless you say otherwise
    company_id = parse_id(request.args.get("company"))
    if request.method == "GET" and company_id is not None:
        company = db.session.scalars(scoped(Company).where(Company.id == company_id)).first()
        if company:
            form.company_name.data = company.name
    if request.method == "POST":
        contact = _save(form, None)
        if contact is not None:
            flash(f"{contact.name} added.", "success")
            return redirect(url_for("contacts.show", contact_id=contact.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("contacts/form.html", form=form, contact=None), status


@bp.get("/<id:contact_id>")
def show(contact_id: int):
    from crm.deals.queries import deals_for_contact  # noqa: PLC0415 (deals import contacts)
    from crm.tasks.services import open_tasks_for  # noqa: PLC0415

    contact = get_or_404(Contact, contact_id)
    return render_template(
        "contacts/show.html",
        contact=contact,
        deals=deals_for_contact(contact.team_id, contact.id),
        tasks=open_tasks_for(contact.team_id, contact_id=contact.id),
    )


@bp.route("/<id:contact_id>/edit", methods=["GET", "POST"])
def edit(contact_id: int):
    contact = get_or_404(Contact, contact_id)
    form = ContactForm(obj=contact)
    form.prepare(team_members.members(current_team().id), contact)
    if request.method == "POST" and _save(form, contact) is not None:
        flash("Changes saved.", "success")
        return redirect(url_for("contacts.show", contact_id=contact.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("contacts/form.html", form=form, contact=contact), status


@bp.post("/<id:contact_id>/delete")
def delete(contact_id: int):
    contact = get_or_404(Contact, contact_id)
    contacts.delete_contact(contact, current_user.id)
    response = redirect(url_for("contacts.index", deleted=contact.id), 303)
    return trigger(response, "contact-deleted", {"id": contact.id})


@bp.post("/<id:contact_id>/restore")
def restore(contact_id: int):
    contact = get_or_404(Contact, contact_id, with_deleted=True)
    contacts.restore_contact(contact, current_user.id)
    flash(f"{contact.name} is back.", "success")
    return redirect(url_for("contacts.show", contact_id=contact.id), 303)


@bp.get("/trash")
def trash():
    from crm.models import Company as CompanyModel
    from crm.models import Deal

    team = current_team()
    people = db.session.scalars(
        scoped(Contact, with_deleted=True)
        .where(Contact.deleted_at.is_not(None))
        .order_by(Contact.deleted_at.desc(), Contact.id.desc())
        .limit(200)
    ).all()
    companies = db.session.scalars(
        scoped(CompanyModel, with_deleted=True)
        .where(CompanyModel.deleted_at.is_not(None))
        .order_by(CompanyModel.deleted_at.desc(), CompanyModel.id.desc())
        .limit(200)
    ).all()
    deals = db.session.scalars(
        scoped(Deal, with_deleted=True)
        .where(Deal.deleted_at.is_not(None))
        .order_by(Deal.deleted_at.desc(), Deal.id.desc())
        .limit(200)
    ).all()
    return render_template(
        "contacts/trash.html",
        contacts=people,
        companies=companies,
        deals=deals,
        team=team,
        days=contacts.TRASH_DAYS,
    )
