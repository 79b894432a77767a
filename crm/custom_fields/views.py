"""Saved views: a named list query (filters, sort, columns), personal or shared with the team,
and each member's default view per list. Services own their commits."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from sqlalchemy import delete, or_, select

from crm.errors import Forbidden, Invalid
from crm.extensions import db
from crm.models import DefaultView, SavedView

# list name → the endpoint of the list it saves
LISTS = {
    "contacts": "contacts.index",
    "companies": "companies.index",
    "deals": "deals.list_view",
    "deals_board": "deals.board",
    "tasks": "tasks.index",
}
# Arguments that are the state of a page, not of its query.
TRANSIENT = {"view", "after", "cursor", "deleted", "page"}


def clean_query(query: str) -> str:
    """The query string without paging and view arguments, in a stable order."""
    pairs = [(k, v) for k, v in parse_qsl(query or "", keep_blank_values=False)]
    return urlencode([(k, v) for k, v in pairs if k not in TRANSIENT][:60])


def visible(team_id: int, user_id: int, list_name: str) -> list[SavedView]:
    """The member's own views and the team's shared ones of a list, by name."""
    return list(
        db.session.scalars(
            select(SavedView)
            .where(
                SavedView.team_id == team_id,
                SavedView.list_name == list_name,
                or_(SavedView.owner_id == user_id, SavedView.shared.is_(True)),
            )
            .order_by(SavedView.shared, SavedView.name, SavedView.id)
        )
    )


def can_see(view: SavedView, user_id: int) -> bool:
    return view.shared or view.owner_id == user_id


def create(
    team_id: int, user_id: int, list_name: str, name: str, query: str, shared: bool
) -> SavedView:
    if list_name not in LISTS:
        raise Invalid("That list cannot have views.", field="list_name")
    name = (name or "").strip()
    if not name:
        raise Invalid("Give the view a name.", field="name")
    if len(name) > 60:
        raise Invalid("At most 60 characters.", field="name")
    view = SavedView(
        team_id=team_id,
        owner_id=user_id,
        list_name=list_name,
        name=name,
        query=clean_query(query),
        shared=bool(shared),
    )
    db.session.add(view)
    db.session.commit()
    return view


def remove(view: SavedView, user_id: int, *, manager: bool) -> None:
    """The owner deletes a view; an owner or admin may delete a shared one too."""
    if view.owner_id != user_id and not (view.shared and manager):
        raise Forbidden("Only its owner can delete this view.")
    db.session.delete(view)
    db.session.commit()


def default_for(team_id: int, user_id: int, list_name: str) -> SavedView | None:
    view = db.session.scalar(
        select(SavedView)
        .join(DefaultView, DefaultView.view_id == SavedView.id)
        .where(
            DefaultView.team_id == team_id,
            DefaultView.user_id == user_id,
            DefaultView.list_name == list_name,
        )
    )
    return view if view is not None and can_see(view, user_id) else None


def set_default(team_id: int, user_id: int, view: SavedView | None, list_name: str) -> None:
    """Make `view` the member's default of its list (None: the plain list again)."""
    db.session.execute(
        delete(DefaultView).where(
            DefaultView.team_id == team_id,
            DefaultView.user_id == user_id,
            DefaultView.list_name == list_name,
        )
    )
    if view is not None:
        db.session.add(
            DefaultView(team_id=team_id, user_id=user_id, list_name=list_name, view_id=view.id)
        )
    db.session.commit()
