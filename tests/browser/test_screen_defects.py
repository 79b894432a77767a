"""Issue 20, seen on screen: what a user reads and taps, at 1280 px and on a 390 px phone."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from crm.search import services
from tests import factories
from tests.conftest import TEST_PASSWORD, assert_no_sideways_scroll


def _log_in(page, owner) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Acme Sales")).to_be_visible()


def _wait_indexed(team_id: int, q: str) -> None:
    """The embedded worker of live_server indexes after commit; wait until it has."""
    deadline = time.monotonic() + 10
    while services.search(team_id, None, q).total == 0:
        assert time.monotonic() < deadline, f"{q!r} was never indexed"
        time.sleep(0.1)


def test_a_highlighted_search_hit_keeps_the_spaces_between_its_words(page, app, owner):
    services.get_engine(app).rebuild([])
    team = factories.team_of(owner)
    factories.make_contact(team, first_name="Olga", last_name="Kim")
    _wait_indexed(team.id, "kim")
    _log_in(page, owner)

    page.goto("/search?q=kim")
    title = page.locator(".search-hit-title").first
    expect(title.locator("mark")).to_have_text("Kim")
    assert title.inner_text() == "Olga Kim"
    size = title.bounding_box()
    assert size["height"] >= 44
    # The results card keeps its text off its border.
    card, link = page.locator(".search-hits").bounding_box(), title.bounding_box()
    assert link["x"] - card["x"] >= 8
    assert_no_sideways_scroll(page)
