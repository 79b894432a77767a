"""Settings → API tokens in a browser (desktop and 390 px): create, copy once, revoke."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_deals_board import _login
from tests.conftest import assert_no_sideways_scroll


def test_create_a_token_see_it_once_and_revoke_it(page, owner):
    _login(page, owner)
    page.goto("/settings/api-tokens")
    page.get_by_label("Token name").fill("Website signup form (production)")
    page.get_by_label("Access").select_option("write")
    create = page.get_by_role("button", name="Create token")
    assert create.bounding_box()["height"] >= 44
    create.click()
    secret = page.get_by_label("New API token")
    expect(secret).to_have_value(re.compile(r"^rap_"))
    assert_no_sideways_scroll(page)

    page.on("dialog", lambda dialog: dialog.accept())
    revoke = page.get_by_role("button", name="Revoke Website signup form (production)")
    assert revoke.bounding_box()["height"] >= 44
    revoke.click()
    expect(page.get_by_label("New API token")).to_have_count(0)
    expect(page.locator("#api-tokens")).to_contain_text("revoked")
    assert_no_sideways_scroll(page)
