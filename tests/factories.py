"""Test data factories: make_user(), make_team_member(), … (they commit)."""

from __future__ import annotations

import itertools

from crm.auth import services as accounts
from crm.extensions import db
from crm.models import Membership, Role, Team, User

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_user(
    *,
    name: str | None = None,
    email: str | None = None,
    team_name: str | None = None,
    password: str = PASSWORD,
) -> User:
    """A user who owns a new team."""
    n = next(_seq)
    return accounts.signup(
        name=name or f"User {n}",
        email=email or f"user{n}@example.com",
        password=password,
        team_name=team_name or f"Team {n}",
    )


def team_of(user: User) -> Team:
    return db.session.get(Team, user.last_team_id)


def make_member(
    team: Team, *, role: Role = Role.MEMBER, name: str | None = None, email: str | None = None
) -> User:
    """A user who belongs to `team` with `role` (and to no other team)."""
    n = next(_seq)
    user = User(name=name or f"Member {n}", email=email or f"member{n}@example.com")
    user.set_password(PASSWORD)
    user.last_team_id = team.id
    db.session.add(user)
    db.session.add(Membership(team=team, user=user, role=role))
    db.session.commit()
    return user
