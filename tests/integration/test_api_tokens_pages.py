"""Settings → API tokens: create (shown once), list, revoke; admins see everyone's."""

from __future__ import annotations

import re

from crm.api import tokens
from crm.models import Role
from tests import factories


def test_create_shows_the_token_once_and_it_works(logged_in, client):
    page = logged_in.get("/settings/api-tokens")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for label in ("Token name", "Access", "Expires on (optional)"):
        assert f">{label}</label>" in html
    made = logged_in.post(
        "/settings/api-tokens", data={"name": "Website form", "scope": "write", "expires_on": ""}
    )
    assert made.status_code == 200
    secret = re.search(r'value="(rap_[^"]+)"', made.get_data(as_text=True)).group(1)
    assert made.headers["Cache-Control"] == "no-store"
    again = logged_in.get("/settings/api-tokens").get_data(as_text=True)
    assert secret not in again and "Website form" in again
    api = client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200


def test_bad_input_is_shown_on_the_field(logged_in):
    response = logged_in.post(
        "/settings/api-tokens", data={"name": "", "scope": "write"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert 'id="api-tokens"' in response.get_data(as_text=True)
    past = logged_in.post(
        "/settings/api-tokens", data={"name": "old", "scope": "read", "expires_on": "2001-01-01"}
    )
    assert past.status_code == 422 and "in the future" in past.get_data(as_text=True)


def test_revoke_stops_the_token(logged_in, client, owner):
    team = factories.team_of(owner)
    token, secret = tokens.create_token(team.id, owner.id, name="ci", scope="read")
    response = logged_in.post(
        f"/settings/api-tokens/{token.id}/revoke", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "api-token-revoked" in response.headers["HX-Trigger"]
    api = client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401


def test_admins_see_and_revoke_everyones_tokens_members_only_their_own(client, auth, owner):
    team = factories.team_of(owner)
    member = factories.make_member(team, name="Mo Member")
    admin = factories.make_member(team, role=Role.ADMIN, name="Ada Admin")
    owners_token, _ = tokens.create_token(team.id, owner.id, name="Owner sync", scope="read")
    members_token, _ = tokens.create_token(team.id, member.id, name="Mo script", scope="read")

    auth.login(member.email)
    html = client.get("/settings/api-tokens").get_data(as_text=True)
    assert "Mo script" in html and "Owner sync" not in html
    assert client.post(f"/settings/api-tokens/{owners_token.id}/revoke").status_code == 403
    auth.logout()

    auth.login(admin.email)
    html = client.get("/settings/api-tokens").get_data(as_text=True)
    assert "Owner sync" in html and "Mo script" in html
    assert client.post(f"/settings/api-tokens/{members_token.id}/revoke").status_code == 303
    assert not tokens.tokens_of(team.id, member.id)[0].active


def test_every_member_has_the_api_tokens_tab_admins_also_the_team_tabs(client, auth, owner):
    team = factories.team_of(owner)
    member = factories.make_member(team, name="Mo Member")
    tabs = re.compile(r'<a href="([^"]+)" class="tab')

    auth.login(member.email)
    html = client.get("/settings/").get_data(as_text=True)
    assert tabs.findall(html) == ["/settings/", "/settings/api-tokens"]
    auth.logout()

    auth.login(owner.email)
    seen = tabs.findall(client.get("/settings/api-tokens").get_data(as_text=True))
    assert seen[:3] == ["/settings/", "/settings/api-tokens", "/settings/team"]
