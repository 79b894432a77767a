"""Saved views (thin): the picker above a list, saving the list's current query as a view,
deleting one, making one the member's default. `?view=<id>` on a list opens the view."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from flask import abort, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from crm.custom_fields import views as saved
from crm.custom_fields import views_bp
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import features
from crm.kernel import members as team_members
from crm.kernel.ids import parse_id
from crm.models import SavedView
from crm.security import current_membership, current_team, get_or_404, load_team

ENDPOINT_LISTS = {endpoint: name for name, endpoint in saved.LISTS.items()}


def _count(list_name: str, query: str) -> int | None:
    """How many records a view shows: the count its list's feature declared (the list's own
    query as one SELECT count(*)), or None when it declared none."""
    count = features.view_count(list_name)
    if count is None:
        return None
    return count(current_team().id, current_user.id, MultiDict(parse_qsl(query)))


@views_bp.get("")
def picker():
    """The tabs of a list's views with their counts (loaded after the list itself)."""
    list_name = request.args.get("list", "")
    if list_name not in saved.LISTS:
        abort(404)
    team, user_id = current_team(), current_user.id
    views = saved.visible(team.id, user_id, list_name)
    default = saved.default_for(team.id, user_id, list_name)
    current = request.args.get("current", type=int)
    return render_template(
        "saved_views/_picker.html",
        list_name=list_name,
        endpoint=saved.LISTS[list_name],
        views=[(v, _count(list_name, v.query)) for v in views],
        default=default,
        current=current,
        query=request.args.get("query", ""),
    )


@views_bp.post("")
def create():
    list_name = request.form.get("list_name", "")
    try:
        view = saved.create(
            current_team().id,
            current_user.id,
            list_name,
            request.form.get("name", ""),
            request.form.get("query", ""),
            request.form.get("shared") == "y",
        )
    except Invalid as error:
        return render_template("saved_views/_error.html", message=error.message), 422
    if request.form.get("default") == "y":
        saved.set_default(current_team().id, current_user.id, view, view.list_name)
    return redirect(_view_url(view), 303)


def _view_url(view: SavedView) -> str:
    base = url_for(saved.LISTS[view.list_name])
    query = view.query + ("&" if view.query else "") + urlencode({"view": view.id})
    return f"{base}?{query}"


def _visible_or_404(view_id: int) -> SavedView:
    view = get_or_404(SavedView, view_id)
    if not saved.can_see(view, current_user.id):
        abort(404)
    return view


@views_bp.post("/<id:view_id>/delete")
def delete(view_id: int):
    view = _visible_or_404(view_id)
    endpoint = saved.LISTS[view.list_name]
    saved.remove(view, current_user.id, manager=team_members.can_manage(current_membership()))
    return redirect(url_for(endpoint, view="all"), 303)


@views_bp.post("/<id:view_id>/default")
def make_default(view_id: int):
    view = _visible_or_404(view_id)
    saved.set_default(current_team().id, current_user.id, view, view.list_name)
    return redirect(_view_url(view), 303)


@views_bp.before_app_request
def open_view():
    """A list opened with only `?view=<id>` (a bookmark) gets the view's query; a list opened
    bare gets the member's default view. `?view=all` is the plain list."""
    if request.method != "GET" or request.endpoint not in ENDPOINT_LISTS:
        return None
    if not current_user.is_authenticated or request.headers.get("HX-Request"):
        return None
    # Installed features' hooks run before the app's own (login, team): pick the team here.
    load_team()
    team = g.get("team")
    if team is None:
        return None
    list_name = ENDPOINT_LISTS[request.endpoint]
    args = request.args
    if not args:
        view = saved.default_for(team.id, current_user.id, list_name)
        return redirect(_view_url(view), 302) if view else None
    if list(args) == ["view"] and (view_id := parse_id(args["view"])) is not None:
        view = db.session.scalar(
            select(SavedView).where(
                SavedView.id == view_id,
                SavedView.team_id == team.id,
                SavedView.list_name == list_name,
            )
        )
        if view is None or not saved.can_see(view, current_user.id):
            abort(404)
        if view.query:
            return redirect(_view_url(view), 302)
    return None
