"""The deal list filtered by a custom select field, then saved as a view (desktop and a 390 px
phone): the filter narrows the list in place, the URL keeps it, the view brings it back."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import factories
from tests.browser.test_deals_board import _login
from tests.conftest import assert_no_sideways_scroll


def test_filter_the_deal_list_by_a_custom_select_and_save_the_view(page, owner):
    from crm.custom_fields import services as fields

    team = factories.team_of(owner)
    plan = factories.make_custom_field(team, label="Plan", type="select", entity="deal")
    fields.set_value(factories.make_deal(team, title="Acme renewal"), plan, "Pro", owner.id)
    fields.set_value(factories.make_deal(team, title="Bolt pilot"), plan, "Basic", owner.id)
    _login(page, owner)

    page.goto("/deals/list?view=all")
    page.get_by_text("Custom fields").click()
    page.get_by_role("combobox", name="Plan", exact=True).select_option(label="Pro")
    expect(page.locator("#deal-list")).not_to_contain_text("Bolt pilot")
    expect(page.locator("#deal-list")).to_contain_text("Acme renewal")
    expect(page).to_have_url(re.compile(r"cf_plan="))
    # Show the field as a column too: the saved view keeps columns as well as filters.
    page.get_by_role("checkbox", name="Plan").check()
    expect(page.locator("#deal-list")).to_contain_text("Pro")
    assert_no_sideways_scroll(page)

    page.get_by_text("Save this view").click()
    page.get_by_label("View name").fill("Pro deals")
    save = page.get_by_role("button", name="Save view")
    if page.is_phone:
        assert save.bounding_box()["height"] >= 44
    save.click()
    expect(page.get_by_role("link", name=re.compile("Pro deals"))).to_be_visible()
    expect(page.locator("#deal-list")).to_contain_text("Acme renewal")
    expect(page.locator("#deal-list")).not_to_contain_text("Bolt pilot")
    assert_no_sideways_scroll(page)

    # The plain list shows both again; the view's tab brings the filter back.
    page.get_by_role("link", name="All", exact=True).click()
    expect(page.locator("#deal-list")).to_contain_text("Bolt pilot")
    page.get_by_role("link", name=re.compile("Pro deals")).click()
    expect(page.locator("#deal-list")).not_to_contain_text("Bolt pilot")
    expect(page.get_by_role("combobox", name="Plan", exact=True)).to_have_value(re.compile(".+"))


def test_the_company_list_filters_and_sorts_by_custom_fields_on_a_phone_too(page, owner):
    from crm.custom_fields import services as fields

    team = factories.team_of(owner)
    tier = factories.make_custom_field(team, label="Tier", type="select", entity="company")
    seats = factories.make_custom_field(team, label="Seats", type="number", entity="company")
    for name, level, count in (("Acme", "Pro", "40"), ("Bolt", "Basic", "5"), ("Core", "Pro", "9")):
        company = factories.make_company(team, name=name)
        fields.set_value(company, tier, level, owner.id)
        fields.set_value(company, seats, count, owner.id)
    _login(page, owner)

    page.goto("/companies?view=all")
    page.get_by_text("Custom fields").click()
    page.get_by_role("combobox", name="Tier", exact=True).select_option(label="Pro")
    expect(page.locator("#company-results")).not_to_contain_text("Bolt")
    page.get_by_label("Sort by").select_option(label="Seats (descending)")
    rows = page.locator("#company-results .row-title")
    expect(rows).to_have_text(["Acme", "Core"])
    expect(page).to_have_url(re.compile(r"sort=-cf_seats"))
    assert_no_sideways_scroll(page)
