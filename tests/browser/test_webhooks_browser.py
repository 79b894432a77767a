"""Webhook settings in a browser: register a receiver, copy the secret, see a delivery arrive."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from crm.contacts import services as contacts
from tests import factories
from tests.browser.test_deals_board import _login
from tests.conftest import assert_no_sideways_scroll
from tests.integration.test_webhooks import Receiver


def test_register_a_webhook_and_watch_a_delivery(page, owner):
    receiver = Receiver()
    try:
        _login(page, owner)
        page.goto("/settings/webhooks")
        assert_no_sideways_scroll(page)
        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_label("contact.created").check()
        page.get_by_role("button", name="Add webhook").click()
        secret = page.get_by_label("Signing secret")
        expect(secret).to_have_value(re.compile(r"^whsec_"))
        assert_no_sideways_scroll(page)
        contacts.create_contact(factories.team_of(owner).id, owner.id, {"first_name": "Ada"})
        page.get_by_role("link", name="Open the webhook's delivery log").click()
        page.wait_for_url(re.compile(r"/settings/webhooks/\d+$"))
        # The embedded worker sends it; reload until the log shows it delivered.
        for _ in range(50):
            if page.locator("#delivery-rows .badge", has_text="delivered").count():
                break
            page.wait_for_timeout(200)
            page.reload()
        expect(page.locator("#delivery-rows .badge").first).to_have_text("delivered")
        expect(page.get_by_role("button", name="Redeliver contact.created").first).to_be_visible()
        assert_no_sideways_scroll(page)
        assert len(receiver.received) == 1
    finally:
        receiver.close()
