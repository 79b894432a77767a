"""Browser (desktop and 390 px): an invitation opened while logged in as someone else says who
it is for and offers a log-out; the 'check your email' page of a default install says where the
reset link goes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.auth import services as accounts
from crm.extensions import db
from crm.models import OutboundEmail, Role
from tests import factories
from tests.conftest import assert_no_sideways_scroll

pytestmark = pytest.mark.browser


def _log_in(page, email):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_an_invitation_for_another_address_offers_a_log_out(app, page, live_server):
    owner = factories.make_user(name="Olive", email="olive@example.com", team_name="Acme Sales")
    with app.test_request_context():  # the invitation mail builds its link with url_for
        accounts.invite(factories.team_of(owner), owner, "pat@example.com", Role.MEMBER)
    body = db.session.scalars(select(OutboundEmail)).one().body_text
    link = re.search(r"/invite/\S+", body).group(0)
    factories.make_user(name="Mallory", email="mallory@example.com")
    _log_in(page, "mallory@example.com")
    page.goto(link)
    expect(
        page.get_by_role("heading", name="This invitation is for another address")
    ).to_be_visible()
    expect(page.get_by_text("pat@example.com", exact=True)).to_be_visible()
    assert_no_sideways_scroll(page)
    button = page.get_by_role("button", name="Log out")
    assert button.bounding_box()["height"] >= 44
    button.click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()


def test_forgot_password_on_a_default_install_points_to_the_server_log(page, live_server):
    page.goto("/forgot")
    page.get_by_label("Email").fill("someone@example.com")
    page.get_by_role("button", name=re.compile("reset", re.I)).click()
    expect(page.get_by_text("finds the link in the server's log", exact=False)).to_be_visible()
    assert_no_sideways_scroll(page)
