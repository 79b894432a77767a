"""Team members and roles: who belongs to a team, and who may manage it.

Promise: a user counts as a member of a team only through a Membership row of that team.
members() lists them by name for pickers (owner, assignee); check_member() turns an id typed
into a form into a member or a field error, never another team's user; find() reads an owner
named in an imported file (email or name); can_manage() is the one
role check (owners and admins manage the team's settings and everyone's items).
"""

from __future__ import annotations

from sqlalchemy import func, select

from crm.errors import Invalid
from crm.extensions import db
from crm.models import Membership, User


def members(team_id: int) -> list[User]:
    """The team's users, by name."""
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.team_id == team_id)
            .order_by(User.name)
        )
    )


def choices(team_id: int, *, first: list[tuple] = ()) -> list[tuple[int, str]]:
    """(id, name) pairs for a select field, after the given fixed choices (e.g. "Nobody")."""
    return list(first) + [(u.id, u.name) for u in members(team_id)]


def is_member(team_id: int, user_id) -> bool:
    if user_id in (None, "", 0):
        return False
    return (
        db.session.scalar(
            select(Membership.id).where(
                Membership.team_id == team_id, Membership.user_id == int(user_id)
            )
        )
        is not None
    )


def check_member(
    team_id: int, user_id, *, field: str, message: str = "The owner must be a member of this team."
) -> User | None:
    """The member with this id (None for none chosen); anyone else is an Invalid on `field`."""
    if user_id in (None, "", 0):
        return None
    user = db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.team_id == team_id, User.id == int(user_id))
    ).first()
    if user is None:
        raise Invalid(message, field=field)
    return user


def find(team_id: int, text: str | None) -> User | None:
    """The member an export names as an owner: by email, else by name (case aside); None when
    nobody, or more than one member, answers to it."""
    text = (text or "").strip().lower()
    if not text:
        return None
    by = func.lower(User.email) if "@" in text else func.lower(User.name)
    found = db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.team_id == team_id, by == text)
        .limit(2)
    ).all()
    return found[0] if len(found) == 1 else None


def user_name(user_id: int | None) -> str | None:
    """A user's name as the audit trail shows it (None for nobody)."""
    user = db.session.get(User, user_id) if user_id else None
    return user.name if user else None


def can_manage(membership: Membership | None) -> bool:
    """Owners and admins manage the team: its settings, its members, everyone's items."""
    return membership is not None and membership.role.can_manage
