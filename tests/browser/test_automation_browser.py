"""Automation settings in a browser: write a rule, try it on a contact, watch it run."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from crm.contacts import services as contacts
from tests import factories
from tests.browser.test_deals_board import _login
from tests.conftest import assert_no_sideways_scroll


def test_write_try_and_watch_a_rule(page, owner):
    team = factories.team_of(owner)
    ada = factories.make_contact(team, owner_id=owner.id, first_name="Ada")
    _login(page, owner)
    page.goto("/settings/automation")
    assert_no_sideways_scroll(page)
    expect(page.locator("#loop-limit")).to_contain_text("chain of 3 rules")
    page.get_by_label("Rule name").fill("Tag new contacts")
    page.get_by_label("When", exact=True).select_option("contact_created")
    page.get_by_label("Action 1", exact=True).select_option("add_tag")
    page.get_by_label("Action 1: tag, title, subject or value").fill("fresh")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url(re.compile(r"/settings/automation/\d+$"))
    page.get_by_label("Record number (from its page's address)").fill(str(ada.id))
    page.get_by_role("button", name="Try").click()
    expect(page.locator("#dry-run-result")).to_contain_text("Add tag “fresh”")
    assert_no_sideways_scroll(page)
    contacts.create_contact(team.id, owner.id, {"first_name": "Bea"})
    page.get_by_role("link", name="← All rules").click()
    # The embedded worker runs it; reload until the run log shows it done.
    for _ in range(50):
        if page.locator("#run-log .badge", has_text="done").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator("#run-log .badge").first).to_have_text("done")
    expect(page.locator("#run-log")).to_contain_text("Add tag “fresh”")
