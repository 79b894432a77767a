"""The board in a real browser: drag a card, and "Move to…" on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.deals import queries, services
from tests import factories
from tests.conftest import assert_no_sideways_scroll, log_in


def _setup(owner):
    team = factories.team_of(owner)
    pipeline = queries.current_pipeline(team.id, None)
    first, second = pipeline.stages[0], pipeline.stages[1]
    deal = services.create_deal(
        team_id=team.id, title="Dragged deal", stage=first, currency="USD", value_minor=5_000_00
    )
    services.create_deal(
        team_id=team.id, title="Stays put", stage=second, currency="USD", value_minor=1_000_00
    )
    return deal, first, second, pipeline


def _login(page, owner):
    log_in(page, owner.email)


def test_drag_a_card_to_another_column_updates_the_totals(page, owner):
    if page.is_phone:
        pytest.skip("dragging is the desktop path; phones use Move to… (tested below)")
    deal, first, second, _ = _setup(owner)
    _login(page, owner)
    # Arrive by the (boosted) navigation: the board's scripts must still run.
    page.get_by_role("navigation", name="Main", exact=True).get_by_role(
        "link", name="Deals"
    ).click()
    page.wait_for_url("**/deals")
    head = page.locator(f"#stage-head-{second.id}")
    expect(head.locator(".column-count")).to_have_text("1 deal")
    card = page.locator(f"#deal-{deal.id} .deal-title")
    target = page.locator(f"#stage-{second.id} .deal-card").first
    box, tbox = card.bounding_box(), target.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    steps = 12
    for i in range(1, steps + 1):
        page.mouse.move(
            box["x"] + (tbox["x"] + tbox["width"] / 2 - box["x"]) * i / steps,
            box["y"] + (tbox["y"] + tbox["height"] - 4 - box["y"]) * i / steps,
        )
        page.wait_for_timeout(30)
    page.mouse.up()
    expect(head.locator(".column-count")).to_have_text("2 deals")
    expect(head.locator(".column-total")).to_have_text("$6,000")
    expect(page.locator(f"#stage-head-{first.id} .column-count")).to_have_text("0 deals")
    expect(page.locator(f"#stage-{second.id} #deal-{deal.id}")).to_have_count(1)
    page.reload()
    expect(page.locator(f"#stage-{second.id} #deal-{deal.id}")).to_have_count(1)
    page.goto(f"/deals/{deal.id}")
    expect(page.get_by_text("Stage: Lead in → Qualified")).to_be_visible()


def assert_nothing_clipped(page) -> None:
    """html/body hide horizontal overflow, so scrollWidth alone misses a too-wide page."""
    right = page.evaluate("document.querySelector('main').getBoundingClientRect().right")
    assert right <= page.viewport_size["width"] + 1, f"the page is {right}px wide"


def test_move_to_without_dragging(page, owner):
    deal, first, _, pipeline = _setup(owner)
    target = pipeline.stages[3]
    _login(page, owner)
    page.goto("/deals")
    assert_no_sideways_scroll(page)
    assert_nothing_clipped(page)
    card = page.locator(f"#deal-{deal.id}")
    card.get_by_text("Actions").click()
    card.get_by_label("Move to…").select_option(label=target.name)
    card.get_by_role("button", name="Move", exact=True).click()
    expect(page.locator(f"#stage-{target.id} #deal-{deal.id}")).to_have_count(1)
    expect(page.locator(f"#stage-head-{target.id} .column-count")).to_have_text("1 deal")
    expect(page.locator(f"#stage-head-{target.id} .column-total")).to_have_text("$5,000")
    expect(page.locator(f"#stage-head-{first.id} .column-count")).to_have_text("0 deals")
    assert_no_sideways_scroll(page)
    if page.is_phone:
        # One stage at a time: a column fills the board's width; the picker jumps between them.
        widths = page.evaluate(
            "[...document.querySelectorAll('.column')].map(c => c.getBoundingClientRect().width)"
        )
        board = page.evaluate("document.querySelector('.board-columns').clientWidth")
        assert all(abs(w - board) < 2 for w in widths)
        page.get_by_role("link", name=target.name).click()
        expect(page.locator(f"#deal-{deal.id}")).to_be_in_viewport()


def test_a_move_from_a_stale_board_refreshes_it(page, owner):
    from crm.extensions import db
    from crm.models import Deal, Stage

    deal, first, second, pipeline = _setup(owner)
    deal_id, second_id, second_name = deal.id, second.id, second.name
    third_id = pipeline.stages[2].id
    _login(page, owner)
    page.goto("/deals")
    card = page.locator(f"#deal-{deal_id}")
    card.get_by_text("Actions").click()
    card.get_by_label("Move to…").select_option(label=second_name)
    # Meanwhile a teammate renames the deal and moves it on.
    fresh = db.session.get(Deal, deal_id)
    services.update_deal(fresh, title="Renamed meanwhile")
    services.move_deal(fresh, db.session.get(Stage, third_id))
    card.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="The board changed")).to_be_visible()
    moved = page.locator(f"#stage-{third_id} #deal-{deal_id}")
    expect(moved).to_contain_text("Renamed meanwhile")
    expect(page.locator(f"#stage-head-{second_id} .column-count")).to_have_text("1 deal")
