"""Pipeline settings in a browser: reorder stages by drag (desktop) or the arrows (phone)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.test_deals_board import _login, assert_nothing_clipped
from tests.conftest import assert_no_sideways_scroll


def _names(page):
    return page.locator("#pipelines-settings .stage-list").first.locator(".row-main strong")


def test_reorder_stages(page, owner):
    _login(page, owner)
    page.goto("/settings/pipelines")
    names = _names(page)
    expect(names).to_have_text(["Lead in", "Qualified", "Proposal", "Negotiation"])
    assert_no_sideways_scroll(page)
    assert_nothing_clipped(page)
    if page.is_phone:
        page.get_by_role("button", name="Move Negotiation up").click()
        expect(names).to_have_text(["Lead in", "Qualified", "Negotiation", "Proposal"])
        return
    handle = page.locator(".stage-row", has_text="Negotiation").locator(".drag-handle")
    top = page.locator(".stage-row", has_text="Lead in")
    box, tbox = handle.bounding_box(), top.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(
            box["x"] + box["width"] / 2,
            box["y"] + (tbox["y"] + 4 - box["y"]) * i / 10,
        )
        page.wait_for_timeout(30)
    # The new order is saved by an htmx request after the drop: wait for its answer before
    # reloading (a reload while it is in flight would cancel it).
    with page.expect_response(
        lambda r: r.url.endswith("/order") and r.request.method == "POST"
    ) as saved:
        page.mouse.up()
    assert saved.value.ok
    expect(names).to_have_text(["Negotiation", "Lead in", "Qualified", "Proposal"])
    page.reload()
    expect(_names(page)).to_have_text(["Negotiation", "Lead in", "Qualified", "Proposal"])
