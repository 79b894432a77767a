"""A new user signs up, logs out and in, invites a teammate who accepts — on desktop and phone."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import DESKTOP, PHONE, assert_no_sideways_scroll

PASSWORD = "correct horse battery"


def _open_menu_item(page, name: str) -> None:
    """Log out lives in the account menu (top bar) at every width."""
    page.get_by_label(re.compile("^Account menu")).click()
    page.get_by_role("button", name=name).click()


def test_signup_login_and_invite_a_teammate(page, browser, live_server):
    page.goto("/signup")
    assert_no_sideways_scroll(page)
    page.get_by_label("Your name").fill("Olive Owner")
    page.get_by_label("Team or company name").fill("Acme Sales")
    page.get_by_label("Email").fill("olive@example.com")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Use at least 10 characters.")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Acme Sales")).to_be_visible()
    expect(page.get_by_text("Welcome to Rapport!")).to_be_visible()
    assert_no_sideways_scroll(page)

    _open_menu_item(page, "Log out")
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    page.get_by_label("Email").fill("olive@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Acme Sales")).to_be_visible()

    # Invite a teammate from Settings → People (an htmx form).
    if page.is_phone:
        page.get_by_text("More", exact=True).click()
        page.get_by_role("link", name="Settings").click()
    else:
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="People").click()
    assert_no_sideways_scroll(page)
    page.get_by_label("Email address").fill("bob@example.com")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to bob@example.com.")).to_be_visible()
    expect(page.get_by_text("Pending invitations")).to_be_visible()

    # Without a mail server the invitation waits in the outbox, where an admin can read it.
    page.get_by_role("link", name="Outbox").click()
    page.get_by_role("link", name=re.compile("invited you to Acme Sales")).click()
    body = page.locator(".mail-body").inner_text()
    link = re.search(r"http://127\.0\.0\.1:\d+/invite/\S+", body).group(0)

    viewport = PHONE if page.is_phone else DESKTOP
    teammate_context = browser.new_context(
        viewport=viewport, has_touch=page.is_phone, is_mobile=page.is_phone
    )
    teammate = teammate_context.new_page()
    try:
        teammate.goto(link)
        expect(teammate.get_by_role("heading", name="Join Acme Sales")).to_be_visible()
        assert_no_sideways_scroll(teammate)
        teammate.get_by_label("Your name").fill("Bob Baker")
        teammate.get_by_label("Choose a password").fill("bobs own passphrase")
        teammate.get_by_role("button", name="Create account and join").click()
        expect(teammate.get_by_text("Welcome to Acme Sales!")).to_be_visible()
        _open_menu_item(teammate, "Log out")
        teammate.get_by_label("Email").fill("bob@example.com")
        teammate.get_by_label("Password").fill("bobs own passphrase")
        teammate.get_by_role("button", name="Log in").click()
        expect(teammate.get_by_role("heading", name="Acme Sales")).to_be_visible()
        assert_no_sideways_scroll(teammate)
    finally:
        teammate_context.close()

    # The owner now sees Bob among the people of the team.
    page.goto("/settings/members")
    expect(page.get_by_text("Bob Baker", exact=True)).to_be_visible()


def test_tap_targets_are_big_enough_on_a_phone(browser, live_server):
    context = browser.new_context(
        viewport=PHONE, has_touch=True, is_mobile=True, base_url=live_server
    )
    page = context.new_page()
    try:
        page.goto("/signup")
        for control in page.locator("button, input:not([type=hidden]), .alt a").all():
            box = control.bounding_box()
            if box:
                assert box["height"] >= 44, f"{control.evaluate('e => e.outerHTML')[:80]}"
    finally:
        context.close()
