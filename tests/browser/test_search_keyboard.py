"""As-you-type search from the top bar with the keyboard, at desktop and phone widths."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from crm.search import services
from tests import factories
from tests.conftest import TEST_PASSWORD, assert_no_sideways_scroll


def _wait_indexed(team_id: int, q: str) -> None:
    """The embedded worker of live_server indexes after commit; wait until it has."""
    deadline = time.monotonic() + 10
    while services.search(team_id, None, q).total == 0:
        assert time.monotonic() < deadline, f"{q!r} was never indexed"
        time.sleep(0.1)


def test_type_arrow_down_and_enter_opens_the_record(page, app, owner):
    services.get_engine(app).rebuild([])
    team = factories.team_of(owner)
    target = factories.make_contact(team, first_name="Theodora", last_name="Quillfeather")
    factories.make_contact(team, first_name="Theo", last_name="Other")
    team_id, target_id = team.id, target.id
    _wait_indexed(team_id, "quillfeather")
    expected = services.search(team_id, None, "quillfeather").hits[0].url or (
        "/search?q=Theodora+Quillfeather"
    )

    page.goto("/login")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Acme Sales")).to_be_visible()
    page.wait_for_load_state("load")  # search.js (deferred) listens from here on

    box = page.get_by_role("combobox", name="Search everything")
    if page.is_phone:
        expect(box).to_be_hidden()  # a search icon button opens it on phones
        open_button = page.get_by_role("button", name="Open search")
        size = open_button.bounding_box()
        assert size["width"] >= 44 and size["height"] >= 44
        open_button.click()
    else:
        page.keyboard.press("/")  # focuses the box from anywhere
    expect(box).to_be_focused()
    box.press_sequentially("quill", delay=30)
    option = page.locator(f"#suggest-contact-{target_id}")
    expect(option).to_be_visible()
    expect(option.locator("mark")).to_have_text(re.compile("quill", re.I))
    assert_no_sideways_scroll(page)

    box.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(expected) + "$"))
    assert_no_sideways_scroll(page)


def test_escape_closes_and_question_mark_shows_the_shortcuts(page, app, owner):
    team = factories.team_of(owner)
    factories.make_contact(team, first_name="Escapade", last_name="Jones")
    _wait_indexed(team.id, "escapade")
    page.goto("/login")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Acme Sales")).to_be_visible()
    page.wait_for_load_state("load")  # search.js (deferred) listens from here on

    page.keyboard.press("Control+k")
    box = page.get_by_role("combobox", name="Search everything")
    expect(box).to_be_focused()
    box.press_sequentially("esca", delay=30)
    expect(page.get_by_role("option", name=re.compile("Escapade"))).to_be_visible()
    box.press("Escape")
    expect(page.get_by_role("option", name=re.compile("Escapade"))).to_have_count(0)
    box.press("Escape")
    if page.is_phone:
        expect(box).to_be_hidden()

    page.locator("main").click()
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog.get_by_text("Go to contacts")).to_be_visible()
    help_dialog.get_by_role("button", name="Close").click()
    expect(help_dialog).to_be_hidden()


def test_search_page_lists_move_with_j_and_k(page, app, owner):
    team = factories.team_of(owner)
    for n in range(3):
        factories.make_contact(team, first_name=f"Jaykay{n}", last_name="Lister")
    _wait_indexed(team.id, "lister")
    page.goto("/login")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/search?q=lister")
    page.wait_for_load_state("load")
    expect(page.locator("[data-list-item]")).to_have_count(3)
    assert_no_sideways_scroll(page)
    page.locator("h1").click()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator("[data-list-item]").nth(1)).to_be_focused()
    page.keyboard.press("k")
    expect(page.locator("[data-list-item]").nth(0)).to_be_focused()
