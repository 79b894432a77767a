"""Company pages (thin views): list, create, show with its people, edit, trash."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from crm.companies import bp, queries
from crm.companies import services as companies
from crm.companies.forms import CompanyForm
from crm.companies.queries import CompanyFilters, company_page
from crm.errors import Invalid
from crm.extensions import db
from crm.htmx import render, trigger, wants_partial
from crm.kernel import custom_fields
from crm.kernel import members as team_members
from crm.kernel.csvio import csv_response
from crm.kernel.forms import show_error
from crm.kernel.ids import parse_id
from crm.models import Company, Contact, Tag
from crm.security import current_team, get_or_404, scoped

PEOPLE_SHOWN = 100


@bp.get("")
def index():
    filters = CompanyFilters.from_args(request.args)
    rows, next_cursor = company_page(filters, request.args.get("after"))
    context = {"rows": rows, "next_cursor": next_cursor, "filters": filters}
    region = request.headers.get("HX-Target") if wants_partial() else None
    if region == "companies-more":
        return render("companies/index.html", "companies/_rows.html", **context)
    tags = db.session.scalars(scoped(Tag).order_by(Tag.name).limit(500)).all()
    deleted = None
    if (deleted_id := parse_id(request.args.get("deleted"))) is not None:
        deleted = db.session.scalars(
            scoped(Company, with_deleted=True).where(
                Company.id == deleted_id, Company.deleted_at.is_not(None)
            )
        ).first()
    response = render(
        "companies/index.html",
        "companies/_results.html" if region == "company-results" else "companies/index.html",
        tags=tags,
        deleted=deleted,
        people=team_members.members(current_team().id),
        sorts=[("name", "Name")]
        + custom_fields.sort_choices(custom_fields.fields_for(current_team().id, "company")),
        # The results region brings the Export link along: the file follows the filters.
        export_oob=region == "company-results",
        **context,
    )
    response.vary.add("HX-Target")
    return response


@bp.get("/export.csv")
def export():
    """The list as a CSV file: the same filters give the same companies, in the same order."""
    filters = CompanyFilters.from_args(request.args)
    header = queries.export_header(current_team().id)
    return csv_response("companies.csv", header, queries.export_rows(filters))


def _save(form: CompanyForm, company: Company | None):
    if not form.validate_on_submit():
        return None
    team_id = current_user_team_id()
    try:
        if company is None:
            return companies.create_company(team_id, current_user.id, form.to_data())
        return companies.update_company(company, current_user.id, form.to_data())
    except Invalid as error:
        db.session.rollback()
        show_error(form, error)
        return None


def current_user_team_id() -> int:
    return current_team().id


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = CompanyForm()
    form.prepare(team_members.members(current_team().id))
    if request.method == "GET":
        form.owner_id.data = current_user.id
    if request.method == "POST":
        company = _save(form, None)
        if company is not None:
            flash(f"{company.name} added.", "success")
            return redirect(url_for("companies.show", company_id=company.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("companies/form.html", form=form, company=None), status


@bp.get("/<id:company_id>")
def show(company_id: int):
    from crm.deals.queries import deals_for_company  # noqa: PLC0415 (deals import companies)
    from crm.tasks.services import open_tasks_for  # noqa: PLC0415

    company = get_or_404(Company, company_id)
    people = db.session.scalars(
        scoped(Contact)
        .where(Contact.company_id == company.id)
        .order_by(Contact.sort_name, Contact.id)
        .limit(PEOPLE_SHOWN + 1)
        .options(selectinload(Contact.emails), selectinload(Contact.phones))
    ).all()
    return render_template(
        "companies/show.html",
        company=company,
        people=people[:PEOPLE_SHOWN],
        more_people=len(people) > PEOPLE_SHOWN,
        deals=deals_for_company(company.team_id, company.id),
        tasks=open_tasks_for(company.team_id, company_id=company.id),
    )


@bp.route("/<id:company_id>/edit", methods=["GET", "POST"])
def edit(company_id: int):
    company = get_or_404(Company, company_id)
    form = CompanyForm(obj=company)
    form.prepare(team_members.members(current_team().id), company)
    if request.method == "POST" and _save(form, company) is not None:
        flash("Changes saved.", "success")
        return redirect(url_for("companies.show", company_id=company.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("companies/form.html", form=form, company=company), status


@bp.post("/<id:company_id>/delete")
def delete(company_id: int):
    company = get_or_404(Company, company_id)
    companies.delete_company(company, current_user.id)
    response = redirect(url_for("companies.index", deleted=company.id), 303)
    return trigger(response, "company-deleted", {"id": company.id})


@bp.post("/<id:company_id>/restore")
def restore(company_id: int):
    company = get_or_404(Company, company_id, with_deleted=True)
    companies.restore_company(company, current_user.id)
    flash(f"{company.name} is back.", "success")
    return redirect(url_for("companies.show", company_id=company.id), 303)


@bp.get("/options")
def options():
    """Company names starting with what was typed, for the contact form's suggestions."""
    typed = (request.args.get("company_name") or request.args.get("q") or "").strip().lower()
    rows = []
    if typed:
        rows = db.session.scalars(
            scoped(Company)
            .where(Company.sort_name >= typed, Company.sort_name < typed + "\uffff")
            .order_by(Company.sort_name, Company.id)
            .limit(10)
        ).all()
    body = render_template("companies/_options.html", rows=rows)
    return body, 200, {"Vary": "HX-Request"}
