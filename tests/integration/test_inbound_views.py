"""Email-in pages: attachments, review queue, inbound log and retry, never-log, the address."""

from __future__ import annotations

import json

import pytest
from flask import render_template
from sqlalchemy import select

from crm.extensions import db
from crm.inbound import intake, processing, queries
from crm.models import Activity, ActivityKind, InboundMessage, InboundStatus, NeverLog, Role
from tests import factories
from tests.integration.test_inbound_processing import address, mail

DOMAIN = "in.rapport.test"


def held(user, run_jobs, **kwargs) -> InboundMessage:
    """A message from a stranger, held as unverified for `user`."""
    raw = mail(frm="Stranger <stranger@elsewhere.example>", **kwargs)
    message = intake.accept(raw, envelope_to=address(user), envelope_from=None, via="smtp")
    run_jobs()
    db.session.expire_all()
    assert message.status == InboundStatus.UNVERIFIED
    return message


# --- Attachments --------------------------------------------------------------------------------


def test_attachment_downloads_as_a_file_and_never_inline(logged_in, owner):
    row = factories.make_email_attachment(
        factories.team_of(owner), data=b"<script>alert(1)</script>", filename="x.html"
    )
    response = logged_in.get(f"/attachments/{row.id}")
    assert response.status_code == 200
    assert response.data == b"<script>alert(1)</script>"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "x.html" in response.headers["Content-Disposition"]
    assert response.mimetype == "application/octet-stream"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_another_teams_attachment_is_404(logged_in):
    other = factories.make_email_attachment(factories.team_of(factories.make_user()))
    assert logged_in.get(f"/attachments/{other.id}").status_code == 404


# --- Review queue -------------------------------------------------------------------------------


def test_review_page_and_partial_list_held_mail(logged_in, owner, run_jobs, htmx_headers):
    message = held(owner, run_jobs, subject="Who is this")
    page = logged_in.get("/inbound/review")
    assert page.status_code == 200 and b"<html" in page.data
    assert b"Who is this" in page.data and f'id="inbound-{message.id}"'.encode() in page.data
    partial = logged_in.get("/inbound/review", headers=htmx_headers)
    assert partial.status_code == 200 and b"<html" not in partial.data
    assert f'id="inbound-{message.id}"'.encode() in partial.data


def test_members_see_only_their_own_held_mail(client, auth, owner, run_jobs):
    team = factories.team_of(owner)
    member = factories.make_member(team, role=Role.MEMBER)
    mine = held(member, run_jobs, subject="Mine")
    theirs = held(owner, run_jobs, subject="Owners")
    auth.login(member.email)
    page = client.get("/inbound/review")
    assert b"Mine" in page.data and b"Owners" not in page.data
    assert client.post(f"/inbound/messages/{theirs.id}/discard").status_code == 404
    assert client.post(f"/inbound/messages/{mine.id}/discard").status_code == 303


def test_contact_picker_finds_by_name_and_address(logged_in, owner, run_jobs):
    team = factories.team_of(owner)
    factories.make_contact(team, first_name="Zelda", last_name="Fitz", email="zf@corp.example")
    factories.make_contact(team, first_name="Other", email="o@corp.example")
    message = held(owner, run_jobs)
    by_name = logged_in.get(f"/inbound/messages/{message.id}/contacts?q=zel")
    by_email = logged_in.get(f"/inbound/messages/{message.id}/contacts?q=ZF@")
    for response in (by_name, by_email):
        assert response.status_code == 200 and b"<html" not in response.data
        assert b"Zelda Fitz" in response.data and b"Other" not in response.data


def test_filing_held_mail_on_a_contact_in_one_click(logged_in, owner, run_jobs, htmx_headers):
    team = factories.team_of(owner)
    zelda = factories.make_contact(team, first_name="Zelda", email="zf@corp.example")
    message = held(owner, run_jobs, subject="Hello there")
    response = logged_in.post(
        f"/inbound/messages/{message.id}/file",
        data={"contact_id": zelda.id},
        headers=htmx_headers,
    )
    assert response.status_code == 200 and b"<html" not in response.data
    assert f'id="inbound-{message.id}"'.encode() in response.data
    assert json.loads(response.headers["HX-Trigger"])["inbound-filed"] == {
        "id": message.id,
        "contact_id": zelda.id,
    }
    db.session.expire_all()
    assert message.status == InboundStatus.PROCESSED
    activity = db.session.get(Activity, message.activity_id)
    assert [link.contact_id for link in activity.links] == [zelda.id]
    assert activity.subject == "Hello there"


def test_filing_on_another_teams_contact_is_404(logged_in, owner, run_jobs):
    message = held(owner, run_jobs)
    other = factories.make_contact(factories.team_of(factories.make_user()))
    response = logged_in.post(f"/inbound/messages/{message.id}/file", data={"contact_id": other.id})
    assert response.status_code == 404
    db.session.expire_all()
    assert message.status == InboundStatus.UNVERIFIED


def test_discard_keeps_the_message_in_the_log(logged_in, owner, run_jobs, htmx_headers):
    message = held(owner, run_jobs)
    response = logged_in.post(f"/inbound/messages/{message.id}/discard", headers=htmx_headers)
    assert response.status_code == 200 and "inbound-discarded" in response.headers["HX-Trigger"]
    db.session.expire_all()
    assert message.status == InboundStatus.REJECTED and "discarded by" in message.reason


# --- The inbound log ----------------------------------------------------------------------------


def test_inbound_log_lists_every_message_with_status_and_filter(
    logged_in, owner, run_jobs, htmx_headers
):
    held(owner, run_jobs, subject="Held one")
    intake.accept(
        mail(frm=owner.email, subject="Good one"),
        envelope_to=address(owner),
        envelope_from=None,
        via="smtp",
    )
    run_jobs()
    db.session.expire_all()  # the worker wrote through its own session
    page = logged_in.get("/settings/inbound")
    assert page.status_code == 200
    assert b"Held one" in page.data and b"Good one" in page.data
    assert b"status-unverified" in page.data and b"status-processed" in page.data
    filtered = logged_in.get("/settings/inbound?status=processed", headers=htmx_headers)
    assert b"<html" not in filtered.data
    assert b"Good one" in filtered.data and b"Held one" not in filtered.data


def test_inbound_log_pages_with_a_sentinel(logged_in, owner, run_jobs, htmx_headers):
    for n in range(queries.LOG_PAGE + 3):
        db.session.add(
            InboundMessage(
                team_id=factories.team_of(owner).id,
                via="smtp",
                envelope_to="x",
                raw=b"",
                size=0,
                subject=f"msg {n}",
            )
        )
    db.session.commit()
    first = logged_in.get("/settings/inbound").get_data(as_text=True)
    assert first.count('class="sentinel"') == 1
    before = first.split("before=")[1].split("&")[0].split('"')[0]
    more = logged_in.get(f"/settings/inbound?before={before}", headers=htmx_headers)
    assert more.get_data(as_text=True).count("<tr id=") == 3


def test_inbound_log_is_for_admins(client, auth, owner):
    member = factories.make_member(factories.team_of(owner), role=Role.MEMBER)
    auth.login(member.email)
    assert client.get("/settings/inbound").status_code == 403


def test_failed_message_shows_its_error_and_headers_and_retries(
    logged_in, owner, run_jobs, monkeypatch
):
    monkeypatch.setattr(processing, "parse_message", lambda raw: 1 / 0)
    message = intake.accept(
        mail(frm=owner.email, subject="Breaks"),
        envelope_to=address(owner),
        envelope_from=None,
        via="smtp",
    )
    run_jobs()
    monkeypatch.undo()
    db.session.expire_all()
    page = logged_in.get(f"/settings/inbound/{message.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "ZeroDivisionError" in text and "Message-ID" in text, text[-3000:]
    assert b">Retry</button>" in page.data
    response = logged_in.post(f"/settings/inbound/{message.id}/retry")
    assert response.status_code == 303
    run_jobs()
    db.session.expire_all()
    assert message.status == InboundStatus.PROCESSED
    assert logged_in.post(f"/settings/inbound/{message.id}/retry").status_code == 409


# --- Never log ----------------------------------------------------------------------------------


def test_never_log_add_validate_and_remove(logged_in, owner, htmx_headers):
    bad = logged_in.post(
        "/settings/inbound/never-log", data={"pattern": "not an address"}, headers=htmx_headers
    )
    assert bad.status_code == 422 and b"Enter an address" in bad.data
    good = logged_in.post(
        "/settings/inbound/never-log", data={"pattern": " @Partner.Example "}, headers=htmx_headers
    )
    assert good.status_code == 200 and b"<html" not in good.data
    assert b'id="never-log"' in good.data and "never-log-changed" in good.headers["HX-Trigger"]
    row = db.session.scalars(select(NeverLog)).one()
    assert row.pattern == "partner.example"
    gone = logged_in.post(f"/settings/inbound/never-log/{row.id}/delete")
    assert gone.status_code == 303
    assert db.session.scalars(select(NeverLog)).first() is None


# --- The personal address -----------------------------------------------------------------------


def test_profile_shows_the_how_to_and_regenerating_kills_the_old_address(
    app, logged_in, owner, htmx_headers
):
    old = address(owner)
    page = logged_in.get("/settings/")
    assert b"+task@" in page.data and b"Regenerate address" in page.data
    response = logged_in.post("/settings/inbound-address", headers=htmx_headers)
    assert response.headers["HX-Redirect"].startswith("/settings/")
    db.session.expire_all()
    assert address(owner) != old
    assert intake.membership_for_address(old) is None
    assert intake.membership_for_address(address(owner)).user_id == owner.id
    with pytest.raises(intake.Rejected) as refused:
        intake.accept(b"Subject: x\r\n\r\nx", envelope_to=old, envelope_from=None, via="smtp")
    assert refused.value.code == 550


# --- The timeline entry -------------------------------------------------------------------------


def test_email_entry_renders_text_folded_quote_and_files(app, owner, run_jobs, tmp_path):
    app.config["CRM_DATA_DIR"] = str(tmp_path)
    body = "Sounds good, see you Monday.\n\nOn Mon, Jan 15, 2024, Jane wrote:\n> Shall we meet?\n"
    intake.accept(
        mail(frm=owner.email, body=body, attachments=[("plan.pdf", b"%PDF plan")]),
        envelope_to=address(owner),
        envelope_from=None,
        via="smtp",
    )
    run_jobs()
    activity = db.session.scalars(select(Activity).where(Activity.kind == ActivityKind.EMAIL)).one()
    emails = queries.emails_for_activities([activity])
    with app.test_request_context():
        from flask_login import login_user

        login_user(owner)
        html = render_template(
            "inbound/_email_entry.html", activity=activity, email=emails[activity.id]
        )
        fallback = render_template("inbound/_email_entry.html", activity=activity)
    assert "Sounds good, see you Monday." in html
    assert "<summary>Show quoted text</summary>" in html
    assert html.index("Shall we meet?") > html.index("Show quoted text")
    assert "plan.pdf" in html and "/attachments/" in html
    assert fallback == html
