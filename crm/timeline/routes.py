"""Timeline views, shared by contact, company and deal pages.

Include contract (any record page):

    {% set timeline = timeline_for(record) %}   {# record: a Contact, Company or Deal #}
    {% include "timeline/_composer.html" %}      {# optional: the add note/call/meeting form #}
    {% include "timeline/_timeline.html" %}      {# the entries, newest first, paged #}

The composer answers with a fresh composer and HX-Trigger `activity-added`; the timeline
reloads itself on `activity-added` / `activity-changed` from the body.
"""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from crm.errors import Invalid
from crm.htmx import trigger, wants_partial
from crm.kernel import dates
from crm.kernel.forms import show_error
from crm.kernel.normalize import format_phone
from crm.kernel.urls import back_url
from crm.models import Activity, Company, Contact, Deal
from crm.security import get_or_404
from crm.timeline import bp
from crm.timeline import services as timeline
from crm.timeline.forms import ComposerForm, EntryForm
from crm.timeline.queries import FILTERS, timeline_page

KINDS = {"contact": Contact, "company": Company, "deal": Deal}
SHOW_PAGES = {"contact": "contacts.show", "company": "companies.show", "deal": "deals.show"}


@bp.app_template_filter("phone")
def phone_filter(value: str | None) -> str:
    return format_phone(value) if value else ""


def kind_of(target) -> str:
    return {Contact: "contact", Company: "company", Deal: "deal"}[type(target)]


def _urls(target) -> dict:
    kind, ident = kind_of(target), target.id
    arg = {f"{kind}_id": ident}
    return {
        "list": url_for(f"timeline.{kind}", **arg),
        "add": url_for(f"timeline.add_{kind}", **arg),
    }


def timeline_context(target, *, filter_kind=None, cursor=None, form=None, day=None) -> dict:
    kind = kind_of(target)
    return {
        "target": target,
        "kind": kind,
        "root_id": f"timeline-{kind}-{target.id}",
        "composer_id": f"composer-{kind}-{target.id}",
        "urls": _urls(target),
        "page": timeline_page(target, cursor=cursor, kind=filter_kind),
        "filter": filter_kind if filter_kind in FILTERS else None,
        "filters": FILTERS,
        "form": form or ComposerForm(formdata=None),
        "last_day": day,
        "user_id": current_user.id,
    }


@bp.app_context_processor
def _globals():
    return {"timeline_for": lambda target: timeline_context(target)}


def _target(kind: str, ident: int):
    return get_or_404(KINDS[kind], ident)


def _list(kind: str, ident: int):
    target = _target(kind, ident)
    filter_kind = request.args.get("type") or None
    cursor = request.args.get("before")
    if not wants_partial():
        endpoint = SHOW_PAGES[kind]
        if endpoint not in current_app.view_functions:
            abort(404)
        return redirect(url_for(endpoint, **{f"{kind}_id": ident}))
    tl = timeline_context(
        target, filter_kind=filter_kind, cursor=cursor, day=request.args.get("day")
    )
    template = "timeline/_entries.html" if cursor else "timeline/_timeline.html"
    response = render_template(template, timeline=tl)
    return response, 200, {"Vary": "HX-Request"}


def _entry_data(form: EntryForm) -> dict:
    data = {
        "body": form.body.data,
        "outcome": form.outcome.data,
        "duration_minutes": form.duration_minutes.data,
        "occurred_at": dates.from_local(form.occurred_at.data),
        "attendees": form.attendees.data,
        "location": form.location.data,
    }
    if isinstance(form, ComposerForm):
        data["follow_up_on"] = form.follow_up_on.data
    return data


def _add(kind: str, ident: int):
    target = _target(kind, ident)
    form = ComposerForm()
    status = 422
    if form.validate_on_submit():
        try:
            activity = timeline.add_entry(
                target, current_user.id, form.kind.data, _entry_data(form)
            )
        except Invalid as error:
            show_error(form, error)
        else:
            if not wants_partial():
                return redirect(back_url(url_for("core.dashboard")), 303)
            fresh = ComposerForm(formdata=None)
            fresh.kind.data = form.kind.data
            tl = timeline_context(target, form=fresh)
            response = render_template("timeline/_composer.html", timeline=tl)
            response = trigger(
                _response(response, 200),
                "activity-added",
                {
                    "id": activity.id,
                    "kind": activity.kind.value,
                    "followUp": bool(form.follow_up_on.data),
                },
            )
            return response
    tl = timeline_context(target, form=form)
    return _response(render_template("timeline/_composer.html", timeline=tl), status)


def _response(body: str, status: int):
    from flask import make_response

    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


@bp.get("/contacts/<id:contact_id>/timeline")
def contact(contact_id: int):
    return _list("contact", contact_id)


@bp.post("/contacts/<id:contact_id>/timeline")
def add_contact(contact_id: int):
    return _add("contact", contact_id)


@bp.get("/companies/<id:company_id>/timeline")
def company(company_id: int):
    return _list("company", company_id)


@bp.post("/companies/<id:company_id>/timeline")
def add_company(company_id: int):
    return _add("company", company_id)


@bp.get("/deals/<id:deal_id>/timeline")
def deal(deal_id: int):
    return _list("deal", deal_id)


@bp.post("/deals/<id:deal_id>/timeline")
def add_deal(deal_id: int):
    return _add("deal", deal_id)


# --- one entry --------------------------------------------------------------------------------


def _entry(activity: Activity, status: int = 200, **extra):
    body = render_template(
        "timeline/_entry.html", a=activity, user_id=current_user.id, standalone=True, **extra
    )
    return _response(body, status)


@bp.get("/activities/<id:activity_id>")
def entry(activity_id: int):
    return _entry(get_or_404(Activity, activity_id))


@bp.get("/activities/<id:activity_id>/edit")
def edit_entry(activity_id: int):
    activity = get_or_404(Activity, activity_id)
    timeline.check_can_edit(activity, current_user.id)
    form = EntryForm(obj=activity, prefix=f"a{activity.id}")
    form.attendees.data = (activity.data or {}).get("attendees", "")
    if activity.occurred_at:
        form.occurred_at.data = activity.occurred_at.astimezone(dates.user_zone()).replace(
            tzinfo=None
        )
    return _response(render_template("timeline/_entry_edit.html", a=activity, form=form), 200)


@bp.post("/activities/<id:activity_id>")
def update_entry(activity_id: int):
    activity = get_or_404(Activity, activity_id)
    timeline.check_can_edit(activity, current_user.id)
    form = EntryForm(prefix=f"a{activity.id}")
    if form.validate_on_submit():
        try:
            timeline.update_entry(activity, current_user.id, _entry_data(form))
        except Invalid as error:
            show_error(form, error)
        else:
            return trigger(_entry(activity), "activity-changed", {"id": activity.id})
    body = render_template("timeline/_entry_edit.html", a=activity, form=form)
    return _response(body, 422)


@bp.post("/activities/<id:activity_id>/delete")
def delete_entry(activity_id: int):
    activity = get_or_404(Activity, activity_id)
    timeline.delete_entry(activity, current_user.id)
    if not wants_partial():
        return redirect(back_url(url_for("core.dashboard")), 303)
    body = render_template("timeline/_entry_deleted.html", a=activity)
    return trigger(_response(body, 200), "activity-deleted", {"id": activity.id})


@bp.post("/activities/<id:activity_id>/restore")
def restore_entry(activity_id: int):
    activity = get_or_404(Activity, activity_id, with_deleted=True)
    timeline.restore_entry(activity, current_user.id)
    if not wants_partial():
        return redirect(back_url(url_for("core.dashboard")), 303)
    return trigger(_entry(activity), "activity-restored", {"id": activity.id})


@bp.post("/activities/<id:activity_id>/pin")
def pin_entry(activity_id: int):
    activity = get_or_404(Activity, activity_id)
    pinned = request.form.get("pinned") == "1"
    timeline.set_pinned(activity, current_user.id, pinned)
    if not wants_partial():
        return redirect(back_url(url_for("core.dashboard")), 303)
    # The timeline re-renders itself on this event: the entry moves to or from the top.
    return trigger(_response("", 204), "activity-changed", {"id": activity.id, "pinned": pinned})
