"""Held mail is filed on a contact from the review queue, then shows in the inbound log."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from crm.extensions import db
from crm.inbound import intake, processing
from tests import factories
from tests.conftest import assert_no_sideways_scroll
from tests.integration.test_inbound_processing import address, mail


def test_file_held_mail_from_the_review_queue(page, live_server):
    owner = factories.make_user(name="Olive Owner", email="olive@example.com", team_name="Acme")
    team = factories.team_of(owner)
    factories.make_contact(
        team, first_name="Zelda", last_name="Fitzgerald", email="zelda@corp.example"
    )
    raw = mail(
        frm="Someone Unknown <someone.with.a.long.address@far-away-company.example>",
        subject="A question about the quarterly renewal of our subscription",
    )
    message = intake.accept(raw, envelope_to=address(owner), envelope_from=None, via="smtp")
    processing.process(message.id)
    db.session.commit()

    page.goto("/login")
    page.get_by_label("Email").fill("olive@example.com")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Acme")).to_be_visible()

    page.goto("/inbound/review")
    expect(page.get_by_text("quarterly renewal")).to_be_visible()
    expect(page.get_by_text(re.compile("is not your address"))).to_be_visible()
    expect(page.get_by_text(re.compile("Sender authentication: .*not verified"))).to_be_visible()
    assert_no_sideways_scroll(page)
    page.get_by_label("File on a contact").fill("zel")
    page.get_by_role("button", name="File on Zelda Fitzgerald").click()
    expect(page.get_by_text(re.compile("on Zelda Fitzgerald"))).to_be_visible()
    assert_no_sideways_scroll(page)

    page.goto("/settings/inbound")
    expect(page.locator(".badge.status-processed")).to_be_visible()
    expect(page.get_by_text(re.compile("filed on Zelda Fitzgerald by Olive Owner"))).to_be_visible()
    assert_no_sideways_scroll(page)

    page.goto("/settings/")
    expect(page.get_by_role("button", name="Regenerate address")).to_be_visible()
    assert_no_sideways_scroll(page)

    page.goto("/settings/team")
    setting = page.get_by_label("Require a passing DKIM or DMARC before creating new contacts")
    setting.check()
    page.get_by_role("button", name="Save team settings").click()
    expect(page.get_by_label("Require a passing DKIM or DMARC")).to_be_checked()
    assert_no_sideways_scroll(page)
