"""Saved views: save a list's query, open it by its bookmark, counts, defaults, sharing."""

from __future__ import annotations

from crm.extensions import db
from crm.models import SavedView
from tests import factories


def _save(client, name, query, **extra):
    return client.post(
        "/views", data={"list_name": "contacts", "name": name, "query": query, **extra}
    )


def test_a_saved_view_opens_by_its_bookmark_with_a_count(logged_in, owner):
    team = factories.team_of(owner)
    factories.make_contact(team, first_name="Ann", lifecycle="customer")
    factories.make_contact(team, first_name="Bob")
    response = _save(logged_in, "Customers", "stage=customer&after=xyz&view=3")
    assert response.status_code == 303
    view = db.session.query(SavedView).one()
    assert view.query == "stage=customer"  # paging and view arguments are not part of it
    bookmark = logged_in.get(f"/contacts?view={view.id}")
    assert bookmark.status_code == 302
    assert bookmark.headers["Location"].endswith(f"/contacts?stage=customer&view={view.id}")
    page = logged_in.get(bookmark.headers["Location"])
    assert "Ann Doe" in page.text and "Bob Doe" not in page.text
    tabs = logged_in.get(f"/views?list=contacts&current={view.id}")
    assert "Customers" in tabs.text and "(1)" in tabs.text and 'aria-current="page"' in tabs.text


def test_a_default_view_opens_the_bare_list_and_all_shows_everything(logged_in, owner):
    _save(logged_in, "Leads", "stage=lead", default="y")
    view = db.session.query(SavedView).one()
    bare = logged_in.get("/contacts")
    assert bare.status_code == 302 and f"view={view.id}" in bare.headers["Location"]
    assert logged_in.get("/contacts?view=all").status_code == 200


def test_personal_views_are_private_and_shared_ones_are_not(client, auth, owner):
    team = factories.team_of(owner)
    member = factories.make_member(team, email="m@example.com")
    mine = factories.make_saved_view(team, owner, name="Mine only", query="stage=lead")
    shared = factories.make_saved_view(team, owner, name="Team view", query="", shared=True)
    auth.login(member.email)
    tabs = client.get("/views?list=contacts").text
    assert "Team view" in tabs and "Mine only" not in tabs
    assert client.get(f"/contacts?view={mine.id}").status_code == 404
    assert client.post(f"/views/{mine.id}/default").status_code == 404
    # A member may use a shared view but not delete it.
    assert client.post(f"/views/{shared.id}/default").status_code == 303
    assert client.post(f"/views/{shared.id}/delete").status_code == 403


def test_a_view_needs_a_name(logged_in):
    response = _save(logged_in, "  ", "stage=lead")
    assert response.status_code == 422 and "Give the view a name" in response.text
