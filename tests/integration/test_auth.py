"""Sign-up, log-in, log-out, remember me, password rules and reset, rate limiting."""

from __future__ import annotations

import re

from sqlalchemy import select

from crm.extensions import db
from crm.models import Membership, OutboundEmail, Role, Team, User
from tests import factories
from tests.conftest import TEST_PASSWORD


def _signup(client, **overrides):
    data = {
        "name": "Ann Lee",
        "team_name": "Lee Consulting",
        "email": "ann@example.com",
        "password": TEST_PASSWORD,
    } | overrides
    return client.post("/signup", data=data)


def test_signup_creates_team_and_owner_and_logs_in(client):
    response = _signup(client)
    assert response.status_code == 303
    user = db.session.scalars(select(User).where(User.email == "ann@example.com")).one()
    membership = db.session.scalars(select(Membership).where(Membership.user_id == user.id)).one()
    assert membership.role == Role.OWNER
    assert db.session.get(Team, membership.team_id).name == "Lee Consulting"
    assert user.password_hash != TEST_PASSWORD and user.check_password(TEST_PASSWORD)
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "Lee Consulting" in dashboard.text
    assert "Invite your teammates" in dashboard.text


def test_signup_shows_errors_on_their_fields(client):
    response = _signup(client, email="not-an-email", password="short")
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert "Invalid email address" in response.text
    assert "Use at least 10 characters" in response.text
    assert db.session.scalar(select(User)) is None  # nothing half-written


def test_signup_refuses_common_password_and_duplicate_email(client):
    assert "too easy to guess" in _signup(client, password="password123").text
    factories.make_user(email="taken@example.com")
    response = _signup(client, email="TAKEN@example.com")
    assert response.status_code == 422
    assert "exists already" in response.text


def test_login_logout_and_wrong_password(client, auth, owner):
    wrong = auth.login(owner.email, "wrong password here")
    assert wrong.status_code == 422
    assert "do not match" in wrong.text
    assert client.get("/").status_code == 302
    assert auth.login(owner.email).status_code == 303
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 303
    assert client.get("/").headers["Location"].startswith("/login")


def test_remember_me_sets_a_lasting_cookie(client, owner):
    client.post("/login", data={"email": owner.email, "password": TEST_PASSWORD, "remember": "y"})
    assert client.get_cookie("remember_token") is not None


def test_next_never_redirects_to_another_host(client, owner):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post(
            f"/login?next={target}", data={"email": owner.email, "password": TEST_PASSWORD}
        )
        assert response.headers["Location"] == "/", target
        client.post("/logout")
    response = client.post(
        "/login?next=/settings/", data={"email": owner.email, "password": TEST_PASSWORD}
    )
    assert response.headers["Location"] == "/settings/"


def test_login_is_rate_limited(client, owner):
    statuses = [
        client.post("/login", data={"email": owner.email, "password": "nope nope nope"}).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [422] * 10
    assert statuses[10] == 429
    page = client.post("/login", data={"email": owner.email, "password": TEST_PASSWORD})
    assert page.status_code == 429
    assert "Too many attempts" in page.text


def _reset_link(to: str) -> str:
    row = db.session.scalars(select(OutboundEmail).where(OutboundEmail.to_addr == to)).one()
    return re.search(r"http://localhost(/reset/\S+)", row.body_text).group(1)


def test_password_reset_by_emailed_link_works_once(client, owner, run_jobs):
    response = client.post("/forgot", data={"email": owner.email})
    assert "Check your email" in response.text
    run_jobs()
    link = _reset_link(owner.email)
    form = client.get(link)
    assert form.status_code == 200
    new = "a brand new passphrase"
    response = client.post(link, data={"password": new, "confirm": new})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, owner.id).check_password(new)
    again = client.get(link)
    assert again.status_code == 400
    assert "used already" in again.text


def test_forgot_does_not_reveal_whether_an_account_exists(client):
    response = client.post("/forgot", data={"email": "nobody@example.com"})
    assert "If an account exists" in response.text
    assert db.session.scalar(select(OutboundEmail)) is None


def test_bad_reset_token_is_a_clear_400(client):
    response = client.get("/reset/not-a-token")
    assert response.status_code == 400
    assert "not valid" in response.text


def test_password_change_logs_out_other_sessions(app, owner):
    first, second = app.test_client(), app.test_client()
    for c in (first, second):
        c.post("/login", data={"email": owner.email, "password": TEST_PASSWORD})
    new = "another fine passphrase"
    response = first.post(
        "/settings/password", data={"pw-current": TEST_PASSWORD, "pw-password": new}
    )
    assert response.status_code == 303
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 302
