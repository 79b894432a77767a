"""A visitor on another website (another loopback port) sends the copy-paste snippet: a lead."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from crm.leads.public import snippet
from crm.models import Contact, Lead
from tests import factories


@pytest.fixture
def other_site():
    """A static website on its own port; set `.html` to what it serves."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = server.html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.html = ""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    server.server_close()


def test_snippet_on_another_site_lands_a_lead(page, app, live_server, other_site):
    app.config["LEADS_MIN_FILL_SECONDS"] = 0  # the fill-time rule has its own tests
    owner = factories.make_user(name="Olive Owner", email="olive@example.com")
    team = factories.team_of(owner)
    form = factories.make_lead_form(
        team,
        name="Website",
        allowed_origins=[other_site.url],
        thank_you="Thanks, we'll call you today.",
    )
    with app.test_request_context():
        other_site.html = (
            "<!doctype html><html><head><meta name=viewport content='width=device-width'>"
            f"<title>Shop</title></head><body><h1>Talk to us</h1>{snippet(form)}</body></html>"
        )

    page.goto(f"{other_site.url}/contact?utm_source=ads&utm_campaign=spring")
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Email (required)").fill("ada@example.com")
    page.get_by_label("Message").fill("Please call me back")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Thanks, we'll call you today.")).to_be_visible()
    assert page.url.startswith(live_server)

    # The post was stored and answered; live_server's embedded worker makes the lead.
    deadline = time.monotonic() + 30
    while True:
        db.session.expire_all()
        contact = db.session.scalars(select(Contact).where(Contact.team_id == team.id)).first()
        if contact is not None and db.session.scalars(select(Lead)).first() is not None:
            break
        assert time.monotonic() < deadline, "the submission never became a lead"
        time.sleep(0.1)
    assert contact.name == "Ada Lovelace"
    lead = db.session.scalars(select(Lead)).one()
    assert lead.source == "ads"

    # A JSON post from the allowed origin reads its answer (CORS).
    page.goto(f"{other_site.url}/again")
    answer = page.evaluate(
        """async (url) => {
            const stamp = document.querySelector('input[name="_ts"]').value;
            const body = JSON.stringify({email: "grace@example.com", _ts: stamp});
            const r = await fetch(url, {
                method: "POST", headers: {"Content-Type": "application/json"}, body});
            return [r.status, (await r.json()).ok];
        }""",
        f"{live_server}/f/{form.token}",
    )
    assert answer == [200, True]


def test_leads_list_on_desktop_and_phone(page, app, live_server):
    import re

    from tests.conftest import TEST_PASSWORD, assert_no_sideways_scroll

    owner = factories.make_user(name="Olive Owner", email="olive@example.com")
    team = factories.team_of(owner)
    factories.make_pipeline(team)
    lead = factories.make_lead(team, assignee_id=owner.id)
    page.goto("/login")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    page.goto("/leads")
    expect(page.get_by_role("link", name=lead.contact.name)).to_be_visible()
    assert_no_sideways_scroll(page)
    page.get_by_label("Status", exact=True).select_option("contacted")
    page.get_by_role("button", name="Set").click()
    expect(page.get_by_text(f"{lead.contact.name}: Contacted.")).to_be_visible()
    page.get_by_role("button", name="Convert to deal").click()
    expect(page).to_have_url(re.compile(r"/deals/\d+"))
