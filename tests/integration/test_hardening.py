"""Issue 19 (part 1): redirects, ids, status lines, sessions, invitations, sign-up, logging
and file permissions — each tried the way an attacker or a careless user would."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from crm.auth.services import _reset_serializer
from crm.extensions import db
from crm.kernel import files
from crm.kernel.ids import IdConverter, parse_id, parse_ids
from crm.models import Contact, Deal, OutboundEmail, User, UserSession
from tests import factories
from tests.integration.test_teams import _invite_link

HUGE = "9" * 30  # beyond 64 bits
HUGE_64 = str(2**64)

# --- 16. The status line is the status code, whatever the template's variables are called ---


def test_lists_with_a_status_filter_answer_a_real_status_code(logged_in, owner, htmx_headers):
    for url in ("/deals/list", "/deals/list?status=open", "/settings/inbound?status=held"):
        for headers in ({}, htmx_headers):
            response = logged_in.get(url, headers=headers)
            assert response.status_code == 200, url
            assert response.status == "200 OK", f"{url} answered the status line {response.status}"


# --- 9. One safe-redirect rule --------------------------------------------------------------

EVIL_TARGETS = [
    "//evil.example",
    "//evil.example/contacts",
    "https://evil.example/",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "data:text/html,hi",
    "evil.example",
]


def _location_is_ours(response) -> bool:
    location = response.headers.get("Location") or response.headers.get("HX-Redirect") or ""
    return location.startswith("/") and not location.startswith("//") and "\\" not in location


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_no_redirect_leaves_the_site(logged_in, owner, target):
    team = factories.team_of(owner)
    contact = factories.make_contact(team)
    deal = factories.make_deal(team)
    stage = deal.pipeline.stages[1]
    task = factories.make_task(team)
    tries = [
        logged_in.post(
            "/contacts/bulk",
            data={"ids": [contact.id], "action": "tag", "tag_value": "x", "next": target},
        ),
        logged_in.post(f"/deals/{deal.id}/move", data={"stage_id": stage.id, "next": target}),
        logged_in.post(f"/tasks/{task.id}/complete", headers={"Referer": target}),
        logged_in.post(
            f"/tasks/new?next={target}", data={"title": "Call back", "assignee_id": owner.id}
        ),
    ]
    for response in tries:
        assert response.status_code in (200, 204, 303), response.request.path
        assert _location_is_ours(response), (response.request.path, response.headers)


def test_redirects_back_to_a_page_of_this_site(logged_in, owner):
    team = factories.team_of(owner)
    task = factories.make_task(team)
    response = logged_in.post(
        f"/tasks/{task.id}/complete", headers={"Referer": "http://localhost/tasks?mine=1"}
    )
    assert response.headers["Location"] == "/tasks?mine=1"
    contact = factories.make_contact(team)
    response = logged_in.post(
        "/contacts/bulk",
        data={"ids": [contact.id], "action": "tag", "tag_value": "x", "next": "/contacts?q=a"},
    )
    assert response.headers["Location"] == "/contacts?q=a"


# --- 11. Ids beyond 64 bits, zero, negative: 404 or a form error, never a 500 ---------------


def test_every_id_in_a_url_is_an_id_converter(app):
    plain_ints = [
        f"{rule.endpoint}: <{name}>"
        for rule in app.url_map.iter_rules()
        for name, converter in rule._converters.items()
        if isinstance(converter, IntegerConverter) and not isinstance(converter, IdConverter)
    ]
    assert not plain_ints, f"use <id:...> for these: {plain_ints}"


def test_every_route_answers_404_to_an_id_beyond_64_bits(app, logged_in):
    checked, wrong = 0, []
    for rule in app.url_map.iter_rules():
        ids = [n for n, c in rule._converters.items() if isinstance(c, IdConverter)]
        if not ids:
            continue
        for value in (HUGE, HUGE_64, "0"):
            path = rule.rule
            for name in ids:
                path = path.replace(f"<id:{name}>", value)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = logged_in.open(path, method=method)
                checked += 1
                # 405: a rule of the same shape for another method; a refusal all the same.
                if response.status_code not in (404, 405):
                    wrong.append(f"{method} {path} → {response.status_code}")
    assert checked > 50
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "url",
    [
        f"/tasks?contact={HUGE}",
        f"/tasks?deal={HUGE_64}&company=-1",
        f"/tasks?assignee={HUGE}",
        f"/settings/outbox?before={HUGE}",
        f"/settings/inbound?before={HUGE}",
        f"/inbound/review?before={HUGE}",
        f"/contacts?company={HUGE}&owner={HUGE}&tag={HUGE}&deleted={HUGE}",
        f"/contacts/new?company={HUGE}",
        f"/companies?owner={HUGE}&tag={HUGE}&deleted={HUGE}&after={HUGE}:x",
        f"/deals?pipeline={HUGE}&owner={HUGE}&tag={HUGE}",
        f"/deals/list?pipeline={HUGE}&cursor=x|{HUGE}",
        f"/deals/new?stage={HUGE}&contact_id={HUGE}&company_id={HUGE}&pipeline=²",
        f"/tasks/new?contact={HUGE}&deal={HUGE}",
        f"/contacts?after={HUGE}:x",
        f"/contacts/export.csv?tag={HUGE}&owner={HUGE}&company={HUGE}",
    ],
)
def test_query_ids_beyond_64_bits_are_ignored_not_500(logged_in, url):
    response = logged_in.get(url)
    assert response.status_code in (200, 404, 422), f"{url} → {response.status_code}"


def test_hand_made_cursors_beyond_64_bits_are_ignored_not_500(logged_in, owner):
    from crm.kernel import paging

    big = int(HUGE)
    stage = factories.make_deal(factories.team_of(owner)).stage_id
    for url in (
        f"/contacts?after={paging.encode('x', big)}",
        f"/contacts?sort=newest&after={paging.encode('2026-01-01T00:00:00+00:00', big)}",
        f"/companies?after={paging.encode('x', big)}",
        f"/deals/list?cursor={paging.encode('2026-01-01T00:00:00+00:00', big)}",
        f"/deals/stages/{stage}/cards?after={paging.encode(big, big)}",
        f"/tasks?after={paging.encode('2026-01-01T00:00:00+00:00', big)}",
        f"/settings/outbox?before={paging.encode(big)}",
        f"/settings/inbound?before={paging.encode(big)}",
        f"/inbound/review?before={paging.encode(big)}",
    ):
        response = logged_in.get(url)
        assert response.status_code in (200, 404), f"{url} → {response.status_code}"


def test_form_ids_beyond_64_bits_are_refused_not_500(logged_in, owner):
    team = factories.team_of(owner)
    deal = factories.make_deal(team)
    response = logged_in.post(f"/deals/{deal.id}/move", data={"stage_id": HUGE})
    assert response.status_code in (404, 422)
    response = logged_in.post(f"/deals/{deal.id}/move", data={"stage_id": "-3"})
    assert response.status_code in (404, 422)
    contact = factories.make_contact(team)
    response = logged_in.post(
        "/contacts/bulk",
        data={"ids": [HUGE, "0", "-1", "²", str(contact.id)], "action": "tag", "tag_value": "t"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert [t.name for t in db.session.get(Contact, contact.id).tags] == ["t"]
    assert db.session.get(Deal, deal.id).stage_id == deal.stage_id


def test_parse_id_accepts_only_ids():
    assert parse_id("42") == 42 and parse_id(42) == 42 and parse_id(" 7 ") == 7
    for bad in (None, "", "0", "-1", HUGE, HUGE_64, str(2**63), "²", "١", "1e3", "4.0", True):
        assert parse_id(bad) is None, bad
    assert parse_id(str(2**31 - 1)) == 2**31 - 1
    assert parse_id(str(2**31)) is None  # past PostgreSQL's INTEGER id columns
    assert parse_ids(["3", "x", "3", HUGE, "1"]) == [3, 1]


# --- 17. Logging survives the migrations; a reset link reaches a default install ------------


def test_app_loggers_still_emit_after_the_migrations_run(app, caplog):
    from flask_migrate import upgrade

    logging.getLogger("crm.errors")  # exists before the migrations, as in `crm serve`
    upgrade()  # what `crm serve` does at start-up
    assert not logging.getLogger("crm.errors").disabled
    with caplog.at_level(logging.INFO):
        logging.getLogger("crm.errors").error("a server error, logged")
        logging.getLogger("crm.outbox").info("a kept mail, logged")
    assert "a server error, logged" in caplog.text
    assert "a kept mail, logged" in caplog.text


def test_reset_link_reaches_the_server_log_without_a_mail_server(
    app, client, owner, run_jobs, caplog
):
    assert not app.config.get("MAIL_SERVER")
    with caplog.at_level(logging.WARNING, logger="crm.outbox"):
        page = client.post("/forgot", data={"email": owner.email})
        run_jobs()
    assert "server's log" in page.text
    logged = [
        r.getMessage()
        for r in caplog.records
        if r.name == "crm.outbox" and r.levelno >= logging.WARNING
    ]
    links = [re.search(r"http://localhost(/reset/\S+)", m) for m in logged]
    links = [m.group(1) for m in links if m]
    assert links, "the reset link is in the server log"
    assert client.get(links[0]).status_code == 200


# --- 19. Files on disk are the server user's only --------------------------------------------


def test_data_folder_database_and_attachments_are_private(app, owner):
    data_dir = Path(app.config["CRM_DATA_DIR"])
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        assert stat.S_IMODE(database.stat().st_mode) == 0o600
    from crm.inbound.filing import _store_attachment, attachment_path
    from crm.inbound.mailtypes import Attachment

    data = b"private bytes " + os.urandom(8)
    sha = hashlib.sha256(data).hexdigest()
    attachment = Attachment("a.txt", "text/plain", data, len(data), sha, None, False)
    team = factories.team_of(owner)
    _store_attachment(team.id, 1, attachment)
    path = attachment_path(team.id, sha)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_older_world_readable_install_is_tightened(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    database = data_dir / "rapport.db"
    database.write_bytes(b"")
    database.chmod(0o644)
    config = {"CRM_DATA_DIR": str(data_dir), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}
    files.make_private(SimpleNamespace(config=config))
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


# --- 7. Sessions live on the server: log-out, password change and removal end them ----------


def _login(client, email, **extra):
    return client.post("/login", data={"email": email, "password": factories.PASSWORD, **extra})


def _copy(app, client, name):
    """A second browser holding a copy of one of `client`'s cookies (a stolen cookie)."""
    thief = app.test_client()
    thief.set_cookie(name, client.get_cookie(name).value)
    return thief


def _signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_a_copied_session_cookie_stops_working_after_log_out(app, client, owner):
    _login(client, owner.email)
    thief = _copy(app, client, "session")
    assert _signed_in(thief)
    client.post("/logout")
    assert not _signed_in(thief)
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_a_copied_remember_me_cookie_stops_working_after_log_out(app, client, owner):
    _login(client, owner.email, remember="y")
    thief = _copy(app, client, "remember_token")  # no session cookie: remember-me signs in
    assert _signed_in(thief)
    stolen = client.get_cookie("remember_token").value
    client.post("/logout")
    late = app.test_client()  # a fresh browser: only the stolen remember-me cookie
    late.set_cookie("remember_token", stolen)
    assert not _signed_in(late)


def test_log_out_ends_only_that_browser(app, owner):
    laptop, phone = app.test_client(), app.test_client()
    _login(laptop, owner.email)
    _login(phone, owner.email)
    laptop.post("/logout")
    assert not _signed_in(laptop) and _signed_in(phone)


def test_password_reset_and_removal_end_every_session(app, client, owner, run_jobs):
    team = factories.team_of(owner)
    member = factories.make_member(team)
    members_browser = app.test_client()
    _login(members_browser, member.email)
    assert _signed_in(members_browser)
    _login(client, owner.email)
    client.post(f"/settings/members/{member.memberships[0].id}/remove")
    assert members_browser.get("/").status_code == 302
    assert members_browser.get("/").headers["Location"].startswith("/login")

    other = app.test_client()
    _login(other, owner.email)
    token = _reset_serializer().dumps({"u": owner.id, "v": owner.session_version})
    new = "a brand new passphrase"
    reset = app.test_client().post(f"/reset/{token}", data={"password": new, "confirm": new})
    assert reset.status_code == 303
    assert not _signed_in(client) and not _signed_in(other)


# --- 6. An invitation is accepted only by the address it was sent to -------------------------


def test_an_invitation_link_does_nothing_for_another_account(app, logged_in, owner):
    logged_in.post("/settings/members/invite", data={"email": "pat@example.com", "role": "admin"})
    link = _invite_link("pat@example.com")
    mallory = factories.make_user(name="Mallory", email="mallory@example.com")
    browser = app.test_client()
    _login(browser, mallory.email)
    page = browser.get(link)
    assert page.status_code == 403 and "sent to <strong>pat@example.com</strong>" in page.text
    assert browser.post(link).status_code == 403
    team = factories.team_of(owner)
    assert {m.user.email for m in team.memberships} == {owner.email}
    # The invitee still can: with a new account for that address.
    pat = app.test_client()
    joined = pat.post(link, data={"name": "Pat", "password": factories.PASSWORD})
    assert joined.status_code == 303
    db.session.expire_all()
    assert {m.user.email for m in team.memberships} == {owner.email, "pat@example.com"}


# --- 8. Sign-up does not tell whether an address has an account, and is rate-limited --------


def _signup(client, email):
    data = {"name": "Sam", "team_name": "Sam Co", "email": email, "password": factories.PASSWORD}
    return client.post("/signup", data=data)


def _page(response, email: str) -> str:
    """The page without the address typed and the CSRF token (signed with the time)."""
    text = re.sub(r'"X-CSRFToken": "[^"]+"', "", response.text.replace(email, "X"))
    return re.sub(r'(name="csrf_token"[^>]*value=)"[^"]+"', r"\1", text)


def test_sign_up_answers_alike_for_a_taken_and_a_free_address(app, client, owner):
    app.config["MAIL_SERVER"] = "smtp.invalid"  # mail can be sent: addresses are confirmed
    taken, free = _signup(client, owner.email), _signup(client, "new@example.com")
    assert taken.status_code == free.status_code == 200
    assert _page(taken, owner.email) == _page(free, "new@example.com")
    assert db.session.scalar(select(func.count()).select_from(User)) == 1  # nothing made yet
    mails = {m.to_addr: m for m in db.session.scalars(select(OutboundEmail))}
    assert "already" in mails[owner.email].subject
    link = re.search(r"http://localhost(/signup/confirm/\S+)", mails["new@example.com"].body_text)
    welcome = client.get(link.group(1))
    assert welcome.status_code == 303
    assert client.get("/").status_code == 200
    assert db.session.scalar(select(User).where(User.email == "new@example.com")).name == "Sam"
    assert app.test_client().get(link.group(1)).status_code == 400  # once only


def test_sign_up_is_rate_limited(client):
    answers = [_signup(client, f"probe{n}@example.com").status_code for n in range(12)]
    assert 429 in answers
