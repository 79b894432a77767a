"""A logged email's formatted (HTML) part in a browser: shown in its sandbox, scripts dead."""

from __future__ import annotations

from playwright.sync_api import expect

from crm.inbound import intake
from tests import factories
from tests.browser.test_deals_board import _login
from tests.conftest import assert_no_sideways_scroll
from tests.integration.test_inbound_batches import html_mail
from tests.integration.test_inbound_processing import address


def test_show_formatted_opens_the_sanitized_html(page, owner, run_jobs):
    team = factories.team_of(owner)
    jane = factories.make_contact(team, first_name="Jane", email="jane@northwind.example")
    html = (
        "<h2>Quarterly <b>review</b></h2><p>Hello Jane, the numbers are in.</p>"
        "<table><tr><td>Q1</td><td>$120,000</td></tr></table>"
        "<script>alert('x')</script>"
        '<img src="https://tracker.example/p.gif" onerror="alert(1)">'
        + "<p>"
        + "a-very-long-unbroken-word-" * 20
        + "</p>"
    )
    raw = html_mail(owner, html)
    intake.accept(raw, envelope_to=address(owner), envelope_from=None, via="smtp")
    run_jobs()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    _login(page, owner)
    page.goto(f"/contacts/{jane.id}")
    page.get_by_text("Show formatted").click()
    frame = page.frame_locator("iframe.email-frame")
    expect(frame.get_by_role("heading", name="Quarterly review")).to_be_visible()
    expect(frame.get_by_text("$120,000")).to_be_visible()
    assert_no_sideways_scroll(page)
    assert dialogs == [], "a script in the mail ran"
