"""Invitations, roles, removing people and switching between teams."""

from __future__ import annotations

import re

from sqlalchemy import select

from crm.extensions import db
from crm.models import Invitation, Membership, OutboundEmail, Role, User
from tests import factories
from tests.conftest import TEST_PASSWORD


def _invite_link(email: str) -> str:
    row = db.session.scalars(
        select(OutboundEmail)
        .where(OutboundEmail.to_addr == email)
        .order_by(OutboundEmail.id.desc())
    ).first()
    return re.search(r"http://localhost(/invite/\S+)", row.body_text).group(1)


def test_invite_is_emailed_and_a_new_person_joins(app, logged_in, owner, htmx_headers):
    response = logged_in.post(
        "/settings/members/invite",
        data={"email": "Bob@Example.com", "role": "member"},
        headers=htmx_headers,
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="members"' in response.text
    assert '"invitation-sent": {"email": "bob@example.com"}' in response.headers["HX-Trigger"]
    assert "Pending invitations" in response.text
    link = _invite_link("bob@example.com")

    newcomer = app.test_client()
    page = newcomer.get(link)
    assert page.status_code == 200 and "Acme Sales" in page.text
    joined = newcomer.post(link, data={"name": "Bob Baker", "password": "bobs own passphrase"})
    assert joined.status_code == 303
    bob = db.session.scalars(select(User).where(User.email == "bob@example.com")).one()
    membership = db.session.scalars(select(Membership).where(Membership.user_id == bob.id)).one()
    assert membership.role == Role.MEMBER
    assert membership.team_id == factories.team_of(owner).id
    assert "Acme Sales" in newcomer.get("/").text
    # The link works once.
    assert newcomer.post("/logout").status_code == 303
    assert "accepted already" in newcomer.get(link).text


def test_invite_errors_show_on_the_field(logged_in, owner, htmx_headers):
    response = logged_in.post(
        "/settings/members/invite", data={"email": "nope", "role": "member"}, headers=htmx_headers
    )
    assert response.status_code == 422
    assert "Invalid email address" in response.text
    again = logged_in.post(
        "/settings/members/invite",
        data={"email": owner.email, "role": "member"},
        headers=htmx_headers,
    )
    assert again.status_code == 422 and "in this team already" in again.text
    assert db.session.scalar(select(Invitation)) is None


def test_existing_user_accepts_an_invitation_into_a_second_team(app, logged_in, owner):
    other = factories.make_user(name="Pat", email="pat@example.com", team_name="Pat's Shop")
    pats_shop = factories.team_of(other)
    logged_in.post("/settings/members/invite", data={"email": "pat@example.com", "role": "admin"})
    link = _invite_link("pat@example.com")
    pat = app.test_client()
    assert "Log in to accept" in pat.get(link).text
    pat.post("/login", data={"email": other.email, "password": TEST_PASSWORD})
    assert "Join Acme Sales" in pat.get(link).text
    assert pat.post(link).status_code == 303
    roles = {m.team.name: m.role for m in db.session.get(User, other.id).memberships}
    assert roles == {"Pat's Shop": Role.OWNER, "Acme Sales": Role.ADMIN}
    # Switching teams changes what the shell shows.
    home = pat.get("/")
    assert "<h1>Acme Sales</h1>" in home.text
    switched = pat.post(f"/teams/{pats_shop.id}/switch")
    assert switched.status_code == 303
    assert "<h1>Pat&#39;s Shop</h1>" in pat.get("/").text


def test_revoked_and_expired_invitations_do_not_work(app, logged_in):
    logged_in.post("/settings/members/invite", data={"email": "x@example.com", "role": "member"})
    link = _invite_link("x@example.com")
    invitation = db.session.scalars(select(Invitation)).one()
    assert logged_in.post(f"/settings/invitations/{invitation.id}/revoke").status_code == 200
    response = app.test_client().get(link)
    assert response.status_code == 400 and "not valid" in response.text


def test_members_cannot_manage_people_or_settings(client, auth, owner):
    member = factories.make_member(factories.team_of(owner))
    auth.login(member.email)
    for path in ("/settings/members", "/settings/team", "/settings/outbox"):
        assert client.get(path).status_code == 403, path
    assert (
        client.post(
            "/settings/members/invite", data={"email": "z@example.com", "role": "member"}
        ).status_code
        == 403
    )
    profile = client.get("/settings/")
    assert profile.status_code == 200
    assert "/settings/members" not in profile.text  # no tab for what they cannot open


def test_roles_admins_cannot_touch_owners_and_a_team_keeps_an_owner(client, auth, owner):
    team = factories.team_of(owner)
    admin = factories.make_member(team, role=Role.ADMIN)
    owner_membership = owner.memberships[0]
    auth.login(admin.email)
    response = client.post(f"/settings/members/{owner_membership.id}/role", data={"role": "member"})
    assert response.status_code == 403
    auth.logout()
    auth.login(owner.email)
    response = client.post(
        f"/settings/members/{owner_membership.id}/role",
        data={"role": "member"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 409
    assert "at least one owner" in response.text
    admin_membership = admin.memberships[0]
    promoted = client.post(f"/settings/members/{admin_membership.id}/role", data={"role": "owner"})
    assert promoted.status_code == 200
    db.session.expire_all()
    assert db.session.get(Membership, admin_membership.id).role == Role.OWNER


def test_removed_member_loses_access(client, auth, owner):
    team = factories.team_of(owner)
    member = factories.make_member(team)
    auth.login(owner.email)
    client.post(f"/settings/members/{member.memberships[0].id}/remove")
    auth.logout()
    auth.login(member.email)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/no-team"


def test_create_a_second_team(logged_in, owner):
    response = logged_in.post("/teams/new", data={"name": "Side Project"})
    assert response.status_code == 303
    assert "<h1>Side Project</h1>" in logged_in.get("/").text
    assert len(db.session.get(User, owner.id).memberships) == 2
