"""The trash in a browser: deleted contacts, companies and deals listed, one tap restores."""

from __future__ import annotations

from playwright.sync_api import expect

from crm.companies.services import delete_company
from crm.contacts.services import delete_contact
from crm.deals.services import delete_deal
from tests import factories
from tests.browser.test_deals_board import _login
from tests.conftest import assert_no_sideways_scroll


def test_trash_lists_every_kind_and_restores_a_deal(page, owner):
    team = factories.team_of(owner)
    contact = factories.make_contact(team, first_name="Dana", last_name="Whitfield-Okonkwo")
    company = factories.make_company(team, name="Northwind Logistics International")
    deal = factories.make_deal(team, title="Renewal 2027 for Northwind", value_minor=1_250_000)
    delete_contact(contact, owner.id)
    delete_company(company, owner.id)
    delete_deal(deal, actor_id=owner.id)

    _login(page, owner)
    page.goto("/contacts/trash")
    for section, name in (
        ("Contacts", "Dana Whitfield-Okonkwo"),
        ("Companies", "Northwind Logistics International"),
        ("Deals", "Renewal 2027 for Northwind"),
    ):
        region = page.get_by_role("region", name=section)
        expect(region.get_by_text(name, exact=True)).to_be_visible()
        button = region.get_by_role("button", name=f"Restore {name}")
        box = button.bounding_box()
        assert box["height"] >= 44, f"Restore in {section} is a small tap target"
    expect(page.get_by_role("region", name="Deals")).to_contain_text("$12,500.00")
    assert_no_sideways_scroll(page)

    page.get_by_role("button", name="Restore Renewal 2027 for Northwind").click()
    page.wait_for_url(f"**/deals/{deal.id}")
    page.goto("/contacts/trash")
    expect(page.get_by_role("region", name="Deals")).to_contain_text("No deleted deals.")
    expect(page.get_by_role("region", name="Contacts")).to_contain_text("Dana Whitfield-Okonkwo")
