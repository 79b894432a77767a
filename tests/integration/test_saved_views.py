"""Saved views: save a list's query, open it by its bookmark, counts, defaults, sharing."""

from __future__ import annotations

import re

from crm.custom_fields import services as fields
from crm.extensions import db
from crm.models import DealStatus, SavedView, utcnow
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


def _tabs(client, list_name: str) -> dict[str, str]:
    """A list's view tabs: name → the count shown beside it."""
    text = client.get(f"/views?list={list_name}").text
    return dict(re.findall(r"\n\s*([^\n<]+?) <span class=\"count\">\((\d+)\)</span>", text))


def test_company_and_deal_views_count_what_their_lists_show(logged_in, owner):
    team = factories.team_of(owner)
    tier = factories.make_custom_field(team, label="Tier", type="select", entity="company")
    budget = factories.make_custom_field(team, label="Budget", type="number", entity="deal")
    for name, value in (("Acme One", "Pro"), ("Acme Two", "Basic"), ("Globex", "Pro")):
        fields.set_value(factories.make_company(team, name=name), tier, value, owner.id)
    for title, value in (("Big one", "500"), ("Small one", "5"), ("Big two", "900")):
        fields.set_value(factories.make_deal(team, title=title), budget, value, owner.id)
    factories.make_deal(team, title="Big but lost", status=DealStatus.LOST)
    other = factories.make_user(name="Zed", email="zed@other.example", team_name="Other")
    factories.make_company(factories.team_of(other), name="Acme Elsewhere")
    for list_name, name, query in (
        ("companies", "Pro acme", "q=acme&cf_tier=Pro"),
        ("companies", "Acme", "q=acme"),
        ("deals", "Big open", "q=big&cf_budget__min=100"),
        ("deals", "Big any status", "q=big&status=all"),
        ("deals_board", "Big on the board", "q=big"),
    ):
        data = {"list_name": list_name, "name": name, "query": query}
        assert logged_in.post("/views", data=data).status_code == 303

    assert _tabs(logged_in, "companies") == {"Acme": "2", "Pro acme": "1"}
    shown = logged_in.get("/companies?q=acme&cf_tier=Pro").text
    assert "Acme One" in shown and "Acme Two" not in shown and "Globex" not in shown
    assert _tabs(logged_in, "deals") == {"Big any status": "3", "Big open": "2"}
    shown = logged_in.get("/deals/list?q=big&cf_budget__min=100").text
    assert "Big one" in shown and "Big two" in shown and "Small one" not in shown
    assert "Big but lost" not in shown
    assert _tabs(logged_in, "deals_board") == {"Big on the board": "2"}


def test_a_task_view_counts_the_members_open_tasks_it_shows(logged_in, owner):
    team = factories.team_of(owner)
    colleague = factories.make_member(team, email="m@example.com")
    factories.make_task(team, title="Mine open", assignee_id=owner.id)
    factories.make_task(team, title="Mine done", assignee_id=owner.id, done_at=utcnow())
    factories.make_task(team, title="Theirs", assignee_id=colleague.id)
    for name, query in (("Open", ""), ("Done", "done=1")):
        data = {"list_name": "tasks", "name": name, "query": query}
        assert logged_in.post("/views", data=data).status_code == 303
    assert _tabs(logged_in, "tasks") == {"Done": "1", "Open": "1"}
    shown = logged_in.get("/tasks").text
    assert "Mine open" in shown and "Theirs" not in shown and "Mine done" not in shown
