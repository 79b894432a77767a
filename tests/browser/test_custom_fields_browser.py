"""Custom fields in a browser: add a select field in settings, set it inline on a contact,
filter the contact list by it and save that as a view (desktop and a 390 px phone)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import factories
from tests.browser.test_deals_board import _login
from tests.conftest import assert_no_sideways_scroll


def test_add_a_select_field_set_it_inline_filter_and_save_the_view(page, owner):
    team = factories.team_of(owner)
    ann = factories.make_contact(team, first_name="Ann", last_name="Archer")
    factories.make_contact(team, first_name="Bob", last_name="Baker")
    _login(page, owner)

    page.goto("/settings/custom-fields")
    page.get_by_label("Records").select_option("contact")
    page.get_by_label("Name").fill("Plan")
    page.get_by_label("Type").select_option("select")
    page.get_by_label("Options (one per line, in order)").fill("Basic\nPro\nEnterprise")
    page.get_by_role("button", name="Add field").click()
    expect(page.locator(".custom-field-list")).to_contain_text("Plan")
    assert_no_sideways_scroll(page)

    page.goto(f"/contacts/{ann.id}")
    value = page.get_by_role("button", name=re.compile("^Plan"))
    value.click()
    select = page.get_by_role("combobox", name="Plan", exact=True)
    select.select_option(label="Pro")
    page.get_by_role("button", name="Save Plan").click()
    expect(page.get_by_role("button", name=re.compile("^Plan"))).to_contain_text("Pro")
    assert_no_sideways_scroll(page)
    # Cancelling an edit saves nothing: Esc on a keyboard, the Cancel button on a phone (which
    # has no Esc key).
    page.get_by_role("button", name=re.compile("^Plan")).click()
    if page.is_phone:
        page.get_by_role("button", name="Cancel editing Plan").click()
    else:
        page.get_by_role("combobox", name="Plan", exact=True).press("Escape")
    expect(page.get_by_role("button", name=re.compile("^Plan"))).to_contain_text("Pro")

    page.goto("/contacts?view=all")
    page.get_by_text("Filters and sort").click()
    page.get_by_role("combobox", name="Plan", exact=True).select_option(label="Pro")
    expect(page.locator("#contact-results")).not_to_contain_text("Bob Baker")
    expect(page.locator("#contact-results")).to_contain_text("Ann Archer")
    assert_no_sideways_scroll(page)

    page.get_by_text("Save this view").click()
    page.get_by_label("View name").fill("Pro customers")
    page.get_by_role("button", name="Save view").click()
    expect(page.get_by_role("link", name=re.compile("Pro customers"))).to_contain_text("(1)")
    expect(page.locator("#contact-results")).not_to_contain_text("Bob Baker")
    assert_no_sideways_scroll(page)
