"""Writing an email (with a file attached) from a contact's page in a real browser, at desktop
and 390×844."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import OutboundEmail
from tests import factories
from tests.conftest import TEST_PASSWORD, assert_no_sideways_scroll


def _tap(page, locator) -> None:
    if page.is_phone:
        locator.tap()
    else:
        locator.click()


def test_compose_from_a_contact_page(page):
    user = factories.make_user(email="rep@example.com")
    team = factories.team_of(user)
    ada = factories.make_contact(
        team, first_name="Ada", last_name="Lovelace", email="ada@engine.example"
    )
    page.goto("/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))

    page.goto(f"/contacts/{ada.id}")
    _tap(page, page.get_by_role("link", name="Write an email to Ada Lovelace"))
    expect(page.get_by_role("heading", name="Email Ada Lovelace")).to_be_visible()
    assert_no_sideways_scroll(page)
    expect(page.get_by_label("Ada Lovelace <ada@engine.example>")).to_be_checked()
    page.get_by_label("Subject").fill("Your engine")
    page.get_by_label("Message").fill("Hi {{ contact.first_name }},\n\n**Thanks** for the notes.")
    files = page.get_by_label("Attach files")
    files.set_input_files(
        [{"name": "engine notes.txt", "mimeType": "text/plain", "buffer": b"Analytical notes"}]
    )
    box = files.bounding_box()
    assert box["height"] >= 44 or not page.is_phone, "file input under 44 px"
    assert_no_sideways_scroll(page)
    send = page.get_by_role("button", name="Send")
    box = send.bounding_box()
    assert box["height"] >= 44 or not page.is_phone, "tap target under 44 px"
    _tap(page, send)

    expect(page).to_have_url(re.compile(rf"/contacts/{ada.id}$"))
    expect(page.get_by_text("Your engine").first).to_be_visible()
    expect(page.locator(".outbound-status").first).to_be_visible()
    expect(page.get_by_role("link", name="engine notes.txt")).to_be_visible()
    assert_no_sideways_scroll(page)
    row = db.session.scalars(select(OutboundEmail)).one()
    assert row.subject == "Your engine" and row.body_text.startswith("Hi Ada,")
    assert [f["filename"] for f in row.attachments] == ["engine notes.txt"]
