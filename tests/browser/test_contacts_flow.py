"""A contact's life in a real browser, at desktop width and on a 390×844 phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import Task
from tests import factories
from tests.conftest import assert_no_sideways_scroll, log_in

pytestmark = pytest.mark.browser


def _log_in(page, email: str) -> None:
    log_in(page, email)


def test_create_note_call_edit_delete_restore(page):
    factories.make_user(name="Olive Owner", email="olive@example.com")
    _log_in(page, "olive@example.com")

    page.goto("/contacts")
    assert_no_sideways_scroll(page)
    page.get_by_role("link", name="New contact").click()
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email", exact=True).fill("ada@example.com")
    page.get_by_label("Phone", exact=True).fill("415 555 0132")
    page.get_by_role("button", name="Add another email").click()
    page.get_by_label("Email 2", exact=True).fill("ada@home.example")
    page.get_by_label("Email 2 type").select_option("personal")
    assert_no_sideways_scroll(page)
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^Call "))).to_have_attribute(
        "href", "tel:+14155550132"
    )
    expect(page.get_by_role("link", name="ada@home.example")).to_be_visible()
    assert_no_sideways_scroll(page)

    # A note, inline: the timeline reloads itself without a page load.
    timeline = page.locator(".timeline")
    page.get_by_label("Notes", exact=True).fill("Met at the Difference Engine meetup.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(timeline.get_by_text("Met at the Difference Engine meetup.")).to_be_visible()

    # A call with its outcome and duration: choose Call, fill one form, save.
    page.locator("label.segment", has_text="Call").click()
    page.get_by_label("Call outcome").select_option("connected")
    page.get_by_label("Minutes").fill("12")
    page.get_by_label("Notes", exact=True).fill("Wants a quote.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(timeline.get_by_text("Wants a quote.")).to_be_visible()
    expect(timeline.get_by_text("Connected · 12 min")).to_be_visible()
    assert_no_sideways_scroll(page)

    # Edit a field: the change shows up as an audit entry on the timeline.
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Job title").fill("Analyst")
    page.get_by_label("Lifecycle stage").select_option("customer")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Changes saved.")).to_be_visible()
    expect(
        timeline.get_by_text(re.compile(r"Olive Owner changed .*Stage: Lead → Customer"))
    ).to_be_visible()

    # Delete, then undo from the banner: nothing is lost.
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_text("Ada Lovelace was moved to the trash.")).to_be_visible()
    expect(page.locator("#contact-results").get_by_text("Ada Lovelace")).to_have_count(0)
    assert_no_sideways_scroll(page)
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    expect(timeline.get_by_text("Wants a quote.")).to_be_visible()
    expect(timeline.get_by_text(re.compile("restored this record"))).to_be_visible()

    # And from the trash page too.
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("link", name="Trash").click()
    page.get_by_role("button", name="Restore Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    assert_no_sideways_scroll(page)


def test_filter_as_you_type_keeps_state_in_the_url(page):
    user = factories.make_user(name="Olive Owner", email="olive@example.com")
    team = factories.team_of(user)
    factories.make_contact(team, first_name="Ada", last_name="Lovelace")
    factories.make_contact(team, first_name="Bob", last_name="Stone")
    _log_in(page, "olive@example.com")
    page.goto("/contacts")
    results = page.locator("#contact-results")
    expect(results.get_by_role("link", name="Bob Stone")).to_be_visible()
    page.get_by_label("Search contacts").press_sequentially("ad", delay=50)
    expect(results.get_by_role("link", name="Bob Stone")).to_have_count(0)
    expect(results.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]q=ad"))
    # The Export link follows the filter typed in place: the file is the list on screen.
    export = page.get_by_role("link", name="Export", exact=True)
    expect(export).to_have_attribute("href", re.compile(r"^/contacts/export\.csv\?q=ad"))
    assert_no_sideways_scroll(page)

    # Bulk: select a row, the bulk bar appears, change the stage.
    page.get_by_label("Select Ada Lovelace").check()
    page.get_by_label("With selected").select_option("stage")
    page.get_by_label("New stage").select_option("customer")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.get_by_text("1 contact moved to a new stage.")).to_be_visible()
    expect(page.locator("#contact-results").get_by_text("Customer")).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]q=ad"))  # the filter survives the action

    # A shared link opens the same filtered list.
    page.goto("/contacts?q=bo")
    expect(results.get_by_role("link", name="Bob Stone")).to_be_visible()
    expect(results.get_by_role("link", name="Ada Lovelace")).to_have_count(0)
    page.go_back()
    expect(page).to_have_url(re.compile(r"[?&]q=ad"))
    expect(
        page.locator("#contact-results").get_by_role("link", name="Ada Lovelace")
    ).to_be_visible()


def test_company_page_rolls_up_its_people(page):
    user = factories.make_user(name="Olive Owner", email="olive@example.com")
    team = factories.team_of(user)
    company = factories.make_company(
        team, name="Initech", domain="initech.example", phone="+14155550100", city="Austin"
    )
    person = factories.make_contact(
        team, first_name="Peter", last_name="Gibbons", company_id=company.id
    )
    factories.make_activity(team, contacts=[person], body="Asked about the stapler.")
    _log_in(page, "olive@example.com")
    page.goto("/companies")
    page.get_by_label("Search companies").press_sequentially("ini", delay=50)
    export = page.get_by_role("link", name="Export", exact=True)
    expect(export).to_have_attribute("href", re.compile(r"^/companies/export\.csv\?q=ini"))
    assert_no_sideways_scroll(page)
    page.get_by_role("link", name="Initech").click()
    expect(page.get_by_role("heading", name="Initech", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Peter Gibbons", exact=True)).to_be_visible()
    timeline = page.locator(".timeline")
    expect(timeline.get_by_text("Asked about the stapler.")).to_be_visible()
    page.get_by_label("Notes", exact=True).fill("Renewal due in March.")
    page.get_by_label("Follow-up on").fill("2030-03-01")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(timeline.get_by_text("Renewal due in March.")).to_be_visible()
    db.session.rollback()  # see what the server committed
    task = db.session.scalars(select(Task)).one()
    assert task.company_id == company.id and task.due_at.year == 2030
    timeline.get_by_role("link", name="Calls").click()
    expect(timeline.get_by_text("Renewal due in March.")).to_have_count(0)
    assert_no_sideways_scroll(page)
    page.goto("/contacts/trash")
    assert_no_sideways_scroll(page)
