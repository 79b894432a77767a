"""Deal views (thin): the board, moves, won/lost, the list and CSV, a deal's page."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user

from crm.deals import bp, queries, services
from crm.deals.forms import DealForm, LostForm, MoveForm
from crm.deals.money import format_money, input_value, parse_money
from crm.errors import Invalid
from crm.extensions import db
from crm.htmx import hx_redirect, render, trigger, wants_partial
from crm.kernel import custom_fields, members, tags
from crm.kernel.csvio import csv_response
from crm.kernel.forms import show_error
from crm.kernel.ids import parse_id, parse_ids
from crm.kernel.urls import safe_url
from crm.models import Contact, ContactEmail, Deal, DealStatus, LostReason, Stage, utcnow
from crm.security import current_team, get_or_404, scoped


@bp.app_template_filter("money")
def money_filter(minor, currency, whole=False):
    return format_money(minor, currency, whole=whole)


@bp.app_context_processor
def deal_helpers():
    return {"deal_version": services.version_of, "deal_rotting": queries.is_rotting}


# --- The board -------------------------------------------------------------------------------


def _board_context(pipeline_id: int | None = None) -> dict:
    team = current_team()
    values = request.values
    pipeline = queries.current_pipeline(
        team.id, pipeline_id or values.get("pipeline", type=parse_id)
    )
    filters = queries.Filters.from_args(values)
    return {
        "pipeline": pipeline,
        "pipelines": queries.pipelines(team.id),
        "filters": filters,
        "columns": queries.board(team.id, pipeline, filters) if pipeline else [],
        "owners": members.members(team.id),
        "tags": queries.tags(team.id),
        "now": utcnow(),
        "deal_base": _deal_base(),
    }


def _deal_base() -> str:
    """ "/deals/": cards build their URLs from it instead of calling url_for a hundred times."""
    return url_for("deals.show", deal_id=0)[:-1]


@bp.get("")
def board():
    return render("deals/board.html", "deals/_board.html", **_board_context())


@bp.get("/stages/<id:stage_id>/cards")
def column(stage_id: int):
    """The next cards of a column ("load more")."""
    stage = get_or_404(Stage, stage_id)
    filters = queries.Filters.from_args(request.args)
    cards, cursor = queries.column_cards(
        current_team().id, stage, filters, after=request.args.get("after")
    )
    return render(
        "deals/_cards.html",
        "deals/_cards.html",
        stage=stage,
        cards=cards,
        cursor=cursor,
        filters=filters,
        pipeline=stage.pipeline,
        now=utcnow(),
        deal_base=_deal_base(),
    )


@bp.get("/<id:deal_id>/actions")
def card_actions(deal_id: int):
    """A card's Move to…, Won and Lost forms, loaded when its Actions disclosure opens."""
    deal = get_or_404(Deal, deal_id)
    return render(
        "deals/_card_actions.html",
        "deals/_card_actions.html",
        deal=deal,
        pipeline=deal.pipeline,
        reasons=queries.lost_reasons(deal.team_id),
    )


def _head_swaps(pipeline, filters, stage_ids) -> str:
    from flask import render_template

    totals = queries.column_totals(current_team().id, pipeline, filters, stage_ids)
    by_id = {s.id: s for s in pipeline.stages}
    return "".join(
        render_template("deals/_column_head.html", stage=by_id[sid], totals=totals[sid], oob=True)
        for sid in dict.fromkeys(stage_ids)
        if sid in by_id
    )


@bp.post("/<id:deal_id>/move")
def move(deal_id: int):
    deal = get_or_404(Deal, deal_id)
    form = MoveForm()
    if not form.validate_on_submit():
        raise Invalid("Choose a stage to move the deal to.")
    stage = get_or_404(Stage, form.stage_id.data)
    try:
        old_stage = services.move_deal(
            deal,
            stage,
            after_id=form.after_id.data,
            version=form.version.data or None,
            actor_id=current_user.id,
        )
    except services.StaleBoard as stale:
        response = render(
            "deals/board.html",
            "deals/_board.html",
            http_status=409,
            **_board_context(deal.pipeline_id),
            message=stale.message,
        )
        response.headers["HX-Retarget"] = "#board"
        response.headers["HX-Reswap"] = "outerHTML"
        return trigger(response, "board-stale", {"deal_id": deal_id})
    detail = {"deal_id": deal.id, "from_stage_id": old_stage.id, "to_stage_id": stage.id}
    target = request.headers.get("HX-Target", "")
    if target == f"deal-{deal.id}":
        # A drag: the card is already where it was dropped; refresh it and both totals.
        from flask import make_response, render_template

        filters = queries.Filters.from_args(request.values)
        html = render_template(
            "deals/_card.html",
            deal=deal,
            stage=stage,
            now=utcnow(),
            deal_base=_deal_base(),
            filters=filters,
        ) + _head_swaps(deal.pipeline, filters, [old_stage.id, stage.id])
        response = make_response(html)
        response.vary.add("HX-Request")
        return trigger(response, "deal-moved", detail)
    if target == "board":
        response = render(
            "deals/board.html", "deals/_board.html", **_board_context(deal.pipeline_id)
        )
        return trigger(response, "deal-moved", detail)
    return trigger(
        hx_redirect(safe_url(request.form.get("next"), url_for("deals.show", deal_id=deal.id))),
        "deal-moved",
        detail,
    )


def _after_close(deal: Deal, event: str):
    """Answer a won/lost/reopen: the board re-rendered, or back to the deal's page."""
    if request.headers.get("HX-Target") == "board":
        response = render(
            "deals/board.html", "deals/_board.html", **_board_context(deal.pipeline_id)
        )
    else:
        response = hx_redirect(url_for("deals.show", deal_id=deal.id))
    return trigger(response, event, {"deal_id": deal.id})


@bp.post("/<id:deal_id>/won")
def won(deal_id: int):
    deal = get_or_404(Deal, deal_id)
    services.mark_won(deal, actor_id=current_user.id)
    return _after_close(deal, "deal-won")


@bp.post("/<id:deal_id>/lost")
def lost(deal_id: int):
    deal = get_or_404(Deal, deal_id)
    form = LostForm()
    form.reason_id.choices = [(0, "")] + [
        (r.id, r.name) for r in queries.lost_reasons(deal.team_id)
    ]
    if not form.validate_on_submit():
        raise Invalid("Choose why the deal was lost.", "reason_id")
    reason = (
        db.session.scalars(scoped(LostReason).where(LostReason.id == form.reason_id.data)).first()
        if form.reason_id.data
        else None
    )
    services.mark_lost(deal, reason=reason, note=form.note.data, actor_id=current_user.id)
    return _after_close(deal, "deal-lost")


@bp.post("/<id:deal_id>/reopen")
def reopen(deal_id: int):
    deal = get_or_404(Deal, deal_id)
    services.reopen(deal, actor_id=current_user.id)
    return _after_close(deal, "deal-reopened")


@bp.post("/<id:deal_id>/delete")
def delete(deal_id: int):
    deal = get_or_404(Deal, deal_id)
    services.delete_deal(deal, actor_id=current_user.id)
    flash("The deal was moved to the trash: restore it from the Trash page.", "success")
    return trigger(hx_redirect(url_for("deals.board")), "deal-deleted", {"deal_id": deal_id})


@bp.post("/<id:deal_id>/restore")
def restore(deal_id: int):
    deal = get_or_404(Deal, deal_id, with_deleted=True)
    services.restore_deal(deal, actor_id=current_user.id)
    flash(f"“{deal.title}” is back.", "success")
    return redirect(url_for("deals.show", deal_id=deal.id), 303)


# --- The list and CSV ------------------------------------------------------------------------


def _list_args():
    team = current_team()
    return team, *queries.list_args(team.id, request.args)


@bp.get("/list")
def list_view():
    team, pipeline, filters, status, sort = _list_args()
    stmt = queries.list_query(team.id, pipeline, filters, status)
    rows, cursor = queries.list_page(stmt, sort, request.args.get("cursor"), team_id=team.id)
    context = {
        "rows": rows,
        "cursor": cursor,
        "pipeline": pipeline,
        "pipelines": queries.pipelines(team.id),
        "filters": filters,
        "status": status,
        "sort": sort,
        "owners": members.members(team.id),
        "tags": queries.tags(team.id),
        "sorts": list(queries.SORT_LABELS.items())
        + custom_fields.sort_choices(custom_fields.fields_for(team.id, "deal")),
        "query": {
            **filters.as_args(),
            "status": status,
            "sort": sort,
            **({"pipeline": pipeline.id} if pipeline else {}),
        },
    }
    if request.args.get("cursor"):
        return render("deals/list.html", "deals/_list_rows.html", **context)
    # The list brings the Export link along: the file follows the filters.
    return render("deals/list.html", "deals/_list.html", export_oob=wants_partial(), **context)


EXPORT_HEADER = [
    "id",
    "title",
    "value",
    "currency",
    "status",
    "pipeline",
    "stage",
    "owner",
    "company",
    "expected_close",
    "lost_reason",
    "created_at",
    "closed_at",
]


@bp.get("/export.csv")
def export_csv():
    team, pipeline, filters, status, sort = _list_args()
    stmt = queries.list_query(team.id, pipeline, filters, status)
    defined = custom_fields.fields_for(team.id, "deal")

    def rows():
        cursor = None
        while True:
            deals, cursor = queries.list_page(stmt, sort, cursor, limit=500, team_id=team.id)
            custom = custom_fields.read(team.id, "deal", [d.id for d in deals], defined)
            for d in deals:
                yield (
                    d.id,
                    d.title,
                    input_value(d.value_minor, d.currency) or "0",
                    d.currency,
                    d.status.value,
                    d.pipeline.name,
                    d.stage.name,
                    d.owner.name if d.owner else "",
                    d.company.name if d.company else "",
                    d.expected_close.isoformat() if d.expected_close else "",
                    d.lost_reason.name if d.lost_reason else "",
                    d.created_at.isoformat(),
                    d.closed_at.isoformat() if d.closed_at else "",
                    *(
                        custom_fields.export_cell(f, custom.get(d.id, {}).get(f.id))
                        for f in defined
                    ),
                )
            if cursor is None:
                break

    header = EXPORT_HEADER + [f.label for f in defined]
    return csv_response(f"deals-{utcnow():%Y%m%d}.csv", header, rows())


def _cells(defined, values: dict) -> list[str]:
    return [custom_fields.export_cell(f, values.get(f.id)) for f in defined]


# --- New, edit, show -------------------------------------------------------------------------


def _fill_choices(form: DealForm, team, deal: Deal | None = None) -> None:
    if deal is None:
        pipelines = queries.pipelines(team.id)
        form.stage_id.choices = [
            (s.id, f"{p.name} · {s.name}" if len(pipelines) > 1 else s.name)
            for p in pipelines
            for s in p.stages
        ]
    form.owner_id.choices = members.choices(team.id, first=[(0, "Nobody")])
    companies = queries.companies_for_picker(team.id)
    form.company_id.choices = [(0, "None")] + [(c.id, c.name) for c in companies]
    for select_field in (form.owner_id, form.company_id):
        if select_field.data is None:  # a deal without an owner/company: the "none" choice
            select_field.data = 0
    if deal and deal.company and deal.company_id not in {c.id for c in companies}:
        form.company_id.choices.append((deal.company_id, deal.company.name))


def _posted_contact_ids() -> list[int]:
    """The contacts whose boxes stay ticked (unticking one removes it from the deal)."""
    return parse_ids(request.form.getlist("contact"))


def _contact_ids_from(form: DealForm, team_id: int) -> list[int]:
    ids = _posted_contact_ids()
    email = (form.add_contact_email.data or "").strip().lower()
    if email:
        found = db.session.scalars(
            scoped(ContactEmail, team_id=team_id).where(ContactEmail.email == email)
        ).first()
        if found is None:
            form.add_contact_email.errors = ["No contact has this email address."]
            raise Invalid("No contact has this email address.", "add_contact_email")
        ids.append(found.contact_id)
    return list(dict.fromkeys(ids))


def _deal_fields(form: DealForm, currency: str) -> dict:
    try:
        value_minor = parse_money(form.value.data, currency)
    except Invalid as error:
        form.value.errors = [error.message]
        raise
    return {
        "title": form.title.data,
        "value_minor": value_minor,
        "currency": currency,
        "owner_id": form.owner_id.data or None,
        "company_id": form.company_id.data or None,
        "expected_close": form.expected_close.data,
    }


@bp.route("/new", methods=["GET", "POST"])
def new():
    team = current_team()
    form = DealForm()
    _fill_choices(form, team)
    contacts = []
    if request.method == "GET":
        form.currency.data = team.currency
        form.owner_id.data = current_user.id
        pipeline = queries.current_pipeline(team.id, request.args.get("pipeline", type=parse_id))
        stage_id = request.args.get("stage", type=parse_id)
        form.stage_id.data = stage_id or (
            pipeline.stages[0].id if pipeline and pipeline.stages else 0
        )
        contact = request.args.get("contact_id", type=parse_id)
        contacts = queries.contacts_by_ids(team.id, [contact] if contact else [])
        company_id = request.args.get("company_id", type=parse_id)
        if company_id:
            form.company_id.data = company_id
        elif contacts and contacts[0].company_id:
            form.company_id.data = contacts[0].company_id
    elif form.validate_on_submit():
        stage = db.session.scalars(scoped(Stage).where(Stage.id == form.stage_id.data)).first()
        try:
            if stage is None:
                form.stage_id.errors = ["Choose a stage."]
                raise Invalid("Choose a stage.", "stage_id")
            deal = services.create_deal(
                team_id=team.id,
                stage=stage,
                contact_ids=_contact_ids_from(form, team.id),
                tags=tags.split(form.tags.data),
                actor_id=current_user.id,
                **_deal_fields(form, form.currency.data),
            )
        except Invalid as error:
            show_error(form, error)
        else:
            return trigger(
                hx_redirect(url_for("deals.show", deal_id=deal.id)),
                "deal-created",
                {"deal_id": deal.id},
            )
    if request.method == "POST":
        contacts = queries.contacts_by_ids(team.id, _posted_contact_ids())
    return render(
        "deals/form.html",
        "deals/_form.html",
        http_status=422 if form.errors else 200,
        form=form,
        deal=None,
        contacts=contacts,
    )


@bp.route("/<id:deal_id>/edit", methods=["GET", "POST"])
def edit(deal_id: int):
    deal = get_or_404(Deal, deal_id)
    team = current_team()
    form = DealForm(obj=deal)
    del form.stage_id
    _fill_choices(form, team, deal)
    if request.method == "GET":
        form.value.data = input_value(deal.value_minor, deal.currency)
        form.owner_id.data = deal.owner_id or 0
        form.company_id.data = deal.company_id or 0
        form.tags.data = ", ".join(t.name for t in deal.tags)
    elif form.validate_on_submit():
        try:
            services.update_deal(
                deal,
                actor_id=current_user.id,
                contact_ids=_contact_ids_from(form, team.id),
                tags=tags.split(form.tags.data),
                **_deal_fields(form, form.currency.data),
            )
        except Invalid as error:
            db.session.rollback()
            show_error(form, error)
        else:
            return trigger(
                hx_redirect(url_for("deals.show", deal_id=deal.id)),
                "deal-updated",
                {"deal_id": deal.id},
            )
    contacts = (
        deal.contacts
        if request.method == "GET"
        else queries.contacts_by_ids(team.id, _posted_contact_ids())
    )
    return render(
        "deals/form.html",
        "deals/_form.html",
        http_status=422 if form.errors else 200,
        form=form,
        deal=deal,
        contacts=contacts,
    )


@bp.get("/<id:deal_id>")
def show(deal_id: int):
    from crm.tasks.services import open_tasks_for  # noqa: PLC0415 (tasks import deals)

    deal = queries.deal_for_page(deal_id)
    if deal is None:
        get_or_404(Deal, deal_id)  # the same 404 as everywhere
    lost_form = LostForm()
    lost_form.reason_id.choices = [(0, "Choose a reason")] + [
        (r.id, r.name) for r in queries.lost_reasons(deal.team_id)
    ]
    return render(
        "deals/show.html",
        "deals/_deal.html",
        deal=deal,
        lost_form=lost_form,
        tasks=open_tasks_for(deal.team_id, deal_id=deal.id),
        now=utcnow(),
        DealStatus=DealStatus,
        Contact=Contact,
    )
