"""Who may see what: the team-scoping helper, the current team, and policy decorators.

Every read of team data goes through `scoped()` (or `get_or_404()`, built on it), so a query
that forgets the team filter cannot be written by accident. Another team's id gives 404.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, g, session
from flask_login import current_user
from sqlalchemy import Select, select

from crm.extensions import db
from crm.models import Membership, Role, Team


def public(view):
    """Mark a view as reachable without logging in (everything else requires a login)."""
    view.is_public = True
    return view


def current_team() -> Team:
    """The team the logged-in user is working in (set by load_team() before each request)."""
    team = g.get("team")
    if team is None:
        abort(404)
    return team


def current_membership() -> Membership:
    membership = g.get("membership")
    if membership is None:
        abort(404)
    return membership


def load_team() -> None:
    """Pick the request's team: the one in the session if the user belongs to it."""
    g.team = g.membership = None
    if not current_user.is_authenticated:
        return
    memberships = {m.team_id: m for m in current_user.memberships}
    if not memberships:
        return
    wanted = session.get("team_id") or current_user.last_team_id
    membership = memberships.get(wanted) or memberships[min(memberships)]
    g.membership, g.team = membership, membership.team
    session["team_id"] = membership.team_id


def scoped(model, *, team_id: int | None = None, with_deleted: bool = False) -> Select:
    """SELECT rows of `model` that belong to the current team (and are not in the trash)."""
    tid = team_id if team_id is not None else current_team().id
    stmt = select(model).where(model.team_id == tid)
    if not with_deleted and hasattr(model, "deleted_at"):
        stmt = stmt.where(model.deleted_at.is_(None))
    return stmt


def get_or_404(model, id_: int, *, with_deleted: bool = False):
    """One row of the current team by id; another team's id is a 404, never a 403."""
    row = db.session.scalars(
        scoped(model, with_deleted=with_deleted).where(model.id == id_)
    ).first()
    if row is None:
        abort(404)
    return row


def role_required(*roles: Role):
    """Allow a view only to members with one of these roles in the current team."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_membership().role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


admin_required = role_required(Role.OWNER, Role.ADMIN)
