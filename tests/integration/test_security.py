"""CSRF, security headers, cookies, and error pages as full pages or htmx fragments."""

from __future__ import annotations

import re

import pytest

from tests.conftest import TEST_PASSWORD


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True


def _token(html: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def test_state_changes_need_the_csrf_token(csrf_on, client, owner):
    page = client.get("/login")
    refused = client.post("/login", data={"email": owner.email, "password": TEST_PASSWORD})
    assert refused.status_code == 400
    assert "session expired or the form was stale" in refused.text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    accepted = client.post(
        "/login", data={"email": owner.email, "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert accepted.status_code == 303


def test_htmx_requests_send_the_token_in_a_header(csrf_on, client, owner):
    login = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login.text).group(1)
    client.post(
        "/login", data={"email": owner.email, "password": TEST_PASSWORD, "csrf_token": token}
    )
    headers = {"HX-Request": "true"}
    refused = client.post(
        "/settings/members/invite",
        data={"email": "a@example.com", "role": "member"},
        headers=headers,
    )
    assert refused.status_code == 400
    assert refused.headers["HX-Retarget"] == "#toasts"
    headers["X-CSRFToken"] = _token(client.get("/").text)
    accepted = client.post(
        "/settings/members/invite",
        data={"email": "a@example.com", "role": "member"},
        headers=headers,
    )
    assert accepted.status_code == 200


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_is_httponly_and_lax(client, owner):
    client.post("/login", data={"email": owner.email, "password": TEST_PASSWORD})
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_cookies_are_secure_behind_https():
    import os

    from crm import config

    os.environ["BASE_URL"] = "https://crm.example.com"
    try:
        settings = config.load()
    finally:
        del os.environ["BASE_URL"]
    assert settings["SESSION_COOKIE_SECURE"] and settings["REMEMBER_COOKIE_SECURE"]


def test_404_is_a_full_page_or_a_toast(logged_in):
    page = logged_in.get("/no/such/page")
    assert page.status_code == 404
    assert "<html" in page.text and "does not exist" in page.text
    fragment = logged_in.get("/no/such/page", headers={"HX-Request": "true"})
    assert fragment.status_code == 404
    assert "<html" not in fragment.text
    assert 'class="toast toast-error"' in fragment.text
    assert fragment.headers["HX-Retarget"] == "#toasts"
    assert fragment.headers["HX-Reswap"] == "beforeend"


def test_403_page(client, auth, owner):
    from tests import factories

    member = factories.make_member(factories.team_of(owner))
    auth.login(member.email)
    page = client.get("/settings/team")
    assert page.status_code == 403 and "permission" in page.text


def test_500_rolls_back_and_shows_a_page_without_a_traceback(app, logged_in):
    app.config["SHOW_500_PAGE"] = True

    def boom():
        raise RuntimeError("secret internals")

    app.view_functions["core.dashboard"] = boom
    try:
        page = logged_in.get("/")
        fragment = logged_in.get("/", headers={"HX-Request": "true"})
    finally:
        from crm.core.routes import dashboard

        app.view_functions["core.dashboard"] = dashboard
    assert page.status_code == 500 and "went wrong" in page.text
    assert "secret internals" not in page.text and "Traceback" not in page.text
    assert fragment.status_code == 500 and "<html" not in fragment.text


def test_healthz_and_manifest_are_public(client):
    assert client.get("/healthz").json == {"status": "ok"}
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    assert manifest.json["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest.json["icons"]} == {"192x192", "512x512"}
    for icon in manifest.json["icons"]:
        assert client.get(icon["src"]).status_code == 200
