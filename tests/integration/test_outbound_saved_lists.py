"""Bulk send to a saved list: its recipients are exactly the people the contact list shows
with that view's filters (custom fields included); preview and send as for a tag; a list the
member cannot see is a 404."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm.custom_fields import services as fields
from crm.extensions import db
from crm.models import BulkRecipient, BulkSend, Lifecycle, OutboundEmail
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


@pytest.fixture
def view(team, owner):
    """'Pro customers of mine': stage, owner and a custom field; everyone else is left out."""
    plan = factories.make_custom_field(team, label="Plan", type="select")
    made = {}
    for name, stage, owned, tier in [
        ("Ann", Lifecycle.CUSTOMER, True, "Pro"),
        ("Bob", Lifecycle.CUSTOMER, True, "Basic"),  # other plan
        ("Cid", Lifecycle.CUSTOMER, False, "Pro"),  # nobody's
        ("Dee", Lifecycle.LEAD, True, "Pro"),  # a lead
        ("Eve", Lifecycle.CUSTOMER, True, "Pro"),
        ("Fay", Lifecycle.CUSTOMER, True, "Pro"),
    ]:
        person = factories.make_contact(
            team,
            first_name=name,
            email=f"{name.lower()}@client.example",
            lifecycle=stage,
            owner_id=owner.id if owned else None,
        )
        fields.set_value(person, plan, tier, owner.id)
        made[name] = person
    made["Fay"].opted_out_at = made["Fay"].created_at
    db.session.commit()
    other = factories.team_of(factories.make_user(email="other@else.example"))
    factories.make_contact(other, first_name="Ann", email="ann2@client.example")
    return factories.make_saved_view(
        team,
        owner,
        name="Pro customers of mine",
        query=f"stage=customer&owner={owner.id}&cf_plan=Pro",
    )


def _on_screen(client, view) -> list[int]:
    page = client.get(f"/contacts?{view.query}").get_data(as_text=True)
    return [int(i) for i in re.findall(r'id="contact-row-(\d+)"', page)]


FORM = {"subject": "Hello {{ contact.first_name }}", "body": "Pro news."}


def test_a_saved_list_previews_and_sends_to_exactly_the_people_the_list_shows(logged_in, view):
    shown = _on_screen(logged_in, view)
    assert len(shown) == 3  # Ann, Eve and Fay (who opted out)

    page = logged_in.get(f"/email/bulk?view={view.id}")
    assert page.status_code == 200
    assert re.search(rf'<option selected value="{view.id}">Pro customers of mine', page.text)

    preview = logged_in.post(
        f"/email/bulk?view={view.id}", data=FORM | {"view": view.id, "action": "preview"}
    )
    assert preview.status_code == 200
    assert "2 people will get this mail" in preview.text and "1 opted out" in preview.text
    assert "Hello Ann" in preview.text and "Hello Eve" in preview.text
    assert "Hello Bob" not in preview.text and "Hello Cid" not in preview.text
    assert db.session.scalars(select(OutboundEmail)).first() is None

    sent = logged_in.post("/email/bulk", data=FORM | {"view": view.id, "action": "send"})
    assert sent.status_code == 303
    bulk = db.session.scalars(select(BulkSend)).one()
    assert bulk.audience == "Saved list “Pro customers of mine”"
    recipients = db.session.scalars(select(BulkRecipient)).all()
    assert sorted(r.contact_id for r in recipients) == sorted(shown)
    assert sorted(r.address for r in recipients if r.skipped is None) == [
        "ann@client.example",
        "eve@client.example",
    ]


def test_a_teammates_personal_list_is_404_and_a_shared_one_is_offered(
    app, client, auth, owner, view, team
):
    mia = factories.make_member(team, name="Mia Member", email="mia@example.com")
    shared = factories.make_saved_view(team, owner, name="Everyone", query="", shared=True)
    auth.login(email=mia.email)
    page = client.get("/email/bulk")
    assert "Everyone (shared)" in page.text and "Pro customers of mine" not in page.text
    assert client.get(f"/email/bulk?view={view.id}").status_code == 404
    response = client.post("/email/bulk", data=FORM | {"view": view.id, "action": "send"})
    assert response.status_code == 404
    assert db.session.scalars(select(OutboundEmail)).first() is None
    assert client.get(f"/email/bulk?view={shared.id}").status_code == 200


def test_another_teams_list_is_404(client, auth, view):
    stranger = factories.make_user(email="stranger@example.com")
    auth.login(email=stranger.email)
    assert client.get(f"/email/bulk?view={view.id}").status_code == 404
    response = client.post("/email/bulk", data=FORM | {"view": view.id, "action": "preview"})
    assert response.status_code == 404


@pytest.mark.parametrize("tag", ["99999999999999999999", "2147483648"])
def test_a_tag_that_is_not_the_teams_is_404_not_an_error(logged_in, tag):
    """Found by the route fuzzer: an id too large for the database used to answer 500."""
    response = logged_in.post("/email/bulk", data=FORM | {"tag": tag, "action": "preview"})
    assert response.status_code == 404
    assert db.session.scalars(select(OutboundEmail)).first() is None
