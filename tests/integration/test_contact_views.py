"""Contact, company and timeline views: full pages, htmx partials, events, status codes."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import Activity, ActivityKind, Company, Contact, Lifecycle
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def test_create_contact_page_and_redirect(logged_in, team):
    page = logged_in.get("/contacts/new")
    assert page.status_code == 200
    assert b'<label for="first_name">First name</label>' in page.data
    response = logged_in.post(
        "/contacts/new",
        data={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company_name": "Analytical Engines",
            "emails-0-email": "ada@example.com",
            "emails-0-label": "work",
            "phones-0-phone": "415 555 0132",
            "phones-0-label": "mobile",
            "owner_id": "0",
            "lifecycle": "prospect",
            "tags": "vip, math",
        },
    )
    assert response.status_code == 303
    contact = db.session.scalars(select(Contact)).one()
    assert response.headers["Location"] == f"/contacts/{contact.id}"
    assert contact.company.name == "Analytical Engines"
    assert contact.lifecycle == Lifecycle.PROSPECT
    show = logged_in.get(f"/contacts/{contact.id}")
    assert show.status_code == 200
    html = show.get_data(as_text=True)
    assert 'href="tel:+14155550132"' in html
    assert 'href="mailto:ada@example.com"' in html
    assert f'id="timeline-contact-{contact.id}"' in html
    assert "created this record" in html


def test_invalid_contact_is_422_with_field_errors(logged_in, team):
    factories.make_contact(team, first_name="Grace", last_name="Hopper", email="g@navy.mil")
    response = logged_in.post(
        "/contacts/new",
        data={
            "first_name": "G",
            "emails-0-email": "G@navy.mil",
            "owner_id": "0",
            "lifecycle": "lead",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "already belongs to Grace Hopper" in html
    assert 'id="emails-0-email-error"' in html
    assert db.session.scalar(select(db.func.count(Company.id))) == 0
    bad = logged_in.post(
        "/contacts/new",
        data={"first_name": "X", "phones-0-phone": "12", "owner_id": "0", "lifecycle": "lead"},
    )
    assert bad.status_code == 422 and "not a possible phone number" in bad.get_data(as_text=True)


def test_edit_writes_an_audit_entry_on_the_timeline(logged_in, team):
    contact = factories.make_contact(team, first_name="Bo", email="bo@x.example")
    form = logged_in.get(f"/contacts/{contact.id}/edit")
    assert form.status_code == 200 and b'value="bo@x.example"' in form.data
    response = logged_in.post(
        f"/contacts/{contact.id}/edit",
        data={
            "first_name": "Bo",
            "last_name": "Doe",
            "emails-0-email": "bo@x.example",
            "emails-0-label": "work",
            "owner_id": "0",
            "lifecycle": "customer",
            "title": "CTO",
        },
    )
    assert response.status_code == 303
    html = logged_in.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "Olive Owner changed" in html
    assert "Stage: Lead → Customer" in html
    assert "Title: — → CTO" in html


def test_list_filters_search_partials_and_paging(logged_in, team, htmx_headers):
    ada = factories.make_contact(
        team, first_name="Ada", last_name="Lovelace", email="ada@a.example"
    )
    factories.make_contact(team, first_name="Bob", last_name="Stone", phone="+14155550100")
    factories.make_contact(
        factories.team_of(factories.make_user()), first_name="Ada", last_name="Other"
    )
    page = logged_in.get("/contacts")
    assert page.status_code == 200 and b"<html" in page.data and b"Ada Lovelace" in page.data
    assert b"Ada Other" not in page.data
    partial = logged_in.get(
        "/contacts?q=ad", headers={**htmx_headers, "HX-Target": "contact-results"}
    )
    assert partial.status_code == 200
    assert b"<html" not in partial.data and b'id="contact-results"' in partial.data
    assert b"Ada Lovelace" in partial.data and b"Bob Stone" not in partial.data
    assert "HX-Request" in partial.headers["Vary"]
    # Back button: htmx restores history with a plain request for the whole page.
    restore = logged_in.get(
        "/contacts?q=ad", headers={**htmx_headers, "HX-History-Restore-Request": "true"}
    )
    assert b"<html" in restore.data and b"Ada Lovelace" in restore.data
    by_email = logged_in.get("/contacts?q=ada@", headers=htmx_headers)
    assert b"Ada Lovelace" in by_email.data
    by_phone = logged_in.get("/contacts?q=415 555", headers=htmx_headers)
    assert b"Bob Stone" in by_phone.data and b"Ada Lovelace" not in by_phone.data
    staged = logged_in.get("/contacts?stage=customer", headers=htmx_headers)
    assert b"Ada" not in staged.data and b"No contacts match" in staged.data
    idle = logged_in.get("/contacts?idle=30&sort=recent")
    assert idle.status_code == 200 and b"Ada Lovelace" in idle.data
    assert ada.id


def test_keyset_sentinel_loads_the_next_page(logged_in, team, htmx_headers, monkeypatch):
    from crm.contacts import queries

    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    for name in ("Ann", "Ben", "Cat", "Dan", "Eve"):
        factories.make_contact(team, first_name=name, last_name="Zed")
    first = logged_in.get("/contacts").get_data(as_text=True)
    assert "Ann Zed" in first and "Ben Zed" in first and "Cat Zed" not in first
    assert 'id="contacts-more"' in first
    import re

    url = re.search(r'id="contacts-more" class="sentinel" hx-get="([^"]+)"', first).group(1)
    url = url.replace("&amp;", "&")
    more = logged_in.get(url, headers={**htmx_headers, "HX-Target": "contacts-more"})
    text = more.get_data(as_text=True)
    assert "Cat Zed" in text and "Dan Zed" in text and "Ann Zed" not in text
    assert 'id="contact-results"' not in text


def test_bulk_actions_view(logged_in, team):
    a = factories.make_contact(team)
    b = factories.make_contact(team)
    response = logged_in.post(
        "/contacts/bulk",
        data={
            "ids": [a.id, b.id],
            "action": "stage",
            "stage_value": "customer",
            "owner_value": "0",
        },
    )
    assert response.status_code == 303
    assert json.loads(response.headers["HX-Trigger"])["contacts-changed"]["count"] == 2
    assert a.lifecycle == Lifecycle.CUSTOMER and b.lifecycle == Lifecycle.CUSTOMER
    response = logged_in.post(
        "/contacts/bulk", data={"ids": [a.id], "action": "delete", "owner_value": "0"}
    )
    assert a.deleted_at is not None


def test_delete_undo_and_trash(logged_in, team):
    contact = factories.make_contact(team, first_name="Del", last_name="Me")
    response = logged_in.post(f"/contacts/{contact.id}/delete")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/contacts?deleted={contact.id}"
    listing = logged_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Del Me was moved to the trash." in listing and "Undo" in listing
    assert logged_in.get(f"/contacts/{contact.id}").status_code == 404
    trash = logged_in.get("/contacts/trash").get_data(as_text=True)
    assert "Del Me" in trash
    restored = logged_in.post(f"/contacts/{contact.id}/restore")
    assert restored.status_code == 303
    assert logged_in.get(f"/contacts/{contact.id}").status_code == 200


def test_timeline_composer_partial_and_event(logged_in, team, htmx_headers):
    contact = factories.make_contact(team)
    url = f"/contacts/{contact.id}/timeline"
    response = logged_in.post(
        url,
        data={
            "kind": "call",
            "body": "Talked pricing",
            "outcome": "connected",
            "duration_minutes": "5",
        },
        headers=htmx_headers,
    )
    assert response.status_code == 200
    assert b"<html" not in response.data
    assert f'id="composer-contact-{contact.id}"'.encode() in response.data
    event = json.loads(response.headers["HX-Trigger"])["activity-added"]
    assert event["kind"] == "call"
    bad = logged_in.post(url, data={"kind": "note", "body": ""}, headers=htmx_headers)
    assert bad.status_code == 422 and b"Write the note first." in bad.data
    listing = logged_in.get(
        url, headers={**htmx_headers, "HX-Target": f"timeline-contact-{contact.id}"}
    )
    assert listing.status_code == 200 and b"<html" not in listing.data
    assert f'id="timeline-contact-{contact.id}"'.encode() in listing.data
    assert b"Talked pricing" in listing.data and b"5 min" in listing.data
    calls_only = logged_in.get(url + "?type=notes", headers=htmx_headers)
    assert b"Talked pricing" not in calls_only.data
    assert logged_in.get(url).status_code == 302  # not htmx: go to the contact page


def test_entry_edit_delete_undo_and_pin(logged_in, team, owner, htmx_headers):
    contact = factories.make_contact(team)
    note = factories.make_activity(team, contacts=[contact], author_id=owner.id, body="Draft")
    edit = logged_in.get(f"/activities/{note.id}/edit", headers=htmx_headers)
    assert edit.status_code == 200 and f'id="activity-{note.id}"'.encode() in edit.data
    saved = logged_in.post(
        f"/activities/{note.id}", data={f"a{note.id}-body": "Final"}, headers=htmx_headers
    )
    assert saved.status_code == 200 and b"Final" in saved.data
    assert "activity-changed" in json.loads(saved.headers["HX-Trigger"])
    pin = logged_in.post(f"/activities/{note.id}/pin", data={"pinned": "1"}, headers=htmx_headers)
    assert pin.status_code == 204 and note.pinned
    deleted = logged_in.post(f"/activities/{note.id}/delete", headers=htmx_headers)
    assert deleted.status_code == 200 and b"Undo" in deleted.data
    assert db.session.get(Activity, note.id).deleted_at is not None
    undone = logged_in.post(f"/activities/{note.id}/restore", headers=htmx_headers)
    assert undone.status_code == 200 and db.session.get(Activity, note.id).deleted_at is None


def test_someone_elses_entry_is_read_only(logged_in, team, htmx_headers):
    contact = factories.make_contact(team)
    colleague = factories.make_member(team)
    note = factories.make_activity(team, contacts=[contact], author_id=colleague.id)
    assert logged_in.get(f"/activities/{note.id}/edit", headers=htmx_headers).status_code == 403
    assert logged_in.post(f"/activities/{note.id}/delete", headers=htmx_headers).status_code == 403
    system = db.session.scalars(select(Activity).where(Activity.kind == ActivityKind.SYSTEM)).all()
    assert system == []


def test_company_pages(logged_in, team, htmx_headers):
    response = logged_in.post(
        "/companies/new",
        data={
            "name": "Initech",
            "domain": "initech.example",
            "owner_id": "0",
            "phone": "+44 20 7946 0958",
        },
    )
    assert response.status_code == 303
    company = db.session.scalars(select(Company)).one()
    person = factories.make_contact(team, first_name="Peter", company_id=company.id)
    factories.make_activity(team, contacts=[person], body="Stapler talk")
    html = logged_in.get(f"/companies/{company.id}").get_data(as_text=True)
    assert "Peter" in html and "Stapler talk" in html and 'href="tel:+442079460958"' in html
    listing = logged_in.get(
        "/companies?q=init", headers={**htmx_headers, "HX-Target": "company-results"}
    )
    assert b"Initech" in listing.data and b"<html" not in listing.data
    bad = logged_in.post(f"/companies/{company.id}/edit", data={"name": "", "owner_id": "0"})
    assert bad.status_code == 422
    assert logged_in.post(f"/companies/{company.id}/delete").status_code == 303
    assert logged_in.get(f"/companies/{company.id}").status_code == 404
    assert logged_in.post(f"/companies/{company.id}/restore").status_code == 303


def test_company_suggestions_for_the_contact_form(logged_in, team, htmx_headers):
    factories.make_company(team, name="Initech")
    factories.make_company(team, name="Globex")
    factories.make_company(factories.team_of(factories.make_user()), name="Initrode")
    response = logged_in.get("/companies/options?company_name=ini", headers=htmx_headers)
    assert response.status_code == 200
    assert b'<option value="Initech">' in response.data
    assert b"Globex" not in response.data and b"Initrode" not in response.data
    form = logged_in.get("/contacts/new").get_data(as_text=True)
    assert 'list="company-options"' in form


@pytest.mark.parametrize("common_tag", [0, 2000])
def test_tag_and_owner_filters_in_both_plans(logged_in, team, owner, monkeypatch, common_tag):
    from crm.contacts import queries
    from crm.contacts import services as contacts

    monkeypatch.setattr(queries, "COMMON_TAG", common_tag)
    tagged = factories.make_contact(team, first_name="Tina", last_name="Tagged")
    factories.make_contact(team, first_name="Uma", last_name="Untagged")
    contacts.update_contact(tagged, owner.id, {"tags": ["vip"], "owner_id": owner.id})
    tag_id = tagged.tags[0].id
    html = logged_in.get(f"/contacts?tag={tag_id}").get_data(as_text=True)
    assert "Tina Tagged" in html and "Uma Untagged" not in html
    html = logged_in.get(f"/contacts?owner={owner.id}").get_data(as_text=True)
    assert "Tina Tagged" in html and "Uma Untagged" not in html
    html = logged_in.get("/contacts?owner=0").get_data(as_text=True)
    assert "Tina Tagged" not in html and "Uma Untagged" in html


def test_deal_timeline_for_the_deals_page(logged_in, team, htmx_headers):
    person = factories.make_contact(team, first_name="Dee")
    deal = factories.make_deal(team, contacts=[person])
    response = logged_in.post(
        f"/deals/{deal.id}/timeline",
        data={"kind": "note", "body": "Sent the offer"},
        headers=htmx_headers,
    )
    assert response.status_code == 200
    assert f'id="composer-deal-{deal.id}"'.encode() in response.data
    note = db.session.scalars(select(Activity).where(Activity.body == "Sent the offer")).one()
    assert note.deal_id == deal.id and [link.contact_id for link in note.links] == [person.id]
    listing = logged_in.get(
        f"/deals/{deal.id}/timeline",
        headers={**htmx_headers, "HX-Target": f"timeline-deal-{deal.id}"},
    )
    assert (
        f'id="timeline-deal-{deal.id}"'.encode() in listing.data
        and b"Sent the offer" in listing.data
    )
    # The deal's note is on its contact's timeline too.
    assert b"Sent the offer" in logged_in.get(f"/contacts/{person.id}").data


def test_timeline_pages_continue_the_day_headings(logged_in, team, htmx_headers, monkeypatch):
    import re
    from datetime import UTC, datetime, timedelta

    from crm.timeline import queries

    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    contact = factories.make_contact(team)
    noon = datetime(2026, 3, 10, 12, tzinfo=UTC)
    for hours in (0, 1, 2, 26):
        factories.make_activity(
            team,
            contacts=[contact],
            body=f"entry {hours}",
            occurred_at=noon - timedelta(hours=hours),
        )
    html = logged_in.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert html.count('class="day-head"') == 1 and "entry 0" in html and "entry 2" not in html
    more = re.search(r'class="sentinel" hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    page2 = logged_in.get(more, headers=htmx_headers).get_data(as_text=True)
    assert "entry 2" in page2 and "entry 26" in page2
    assert page2.count('class="day-head"') == 1  # only March 9 is new; March 10 continues
    assert "Monday, March 9, 2026" in page2


def test_search_by_last_name(logged_in, team, htmx_headers):
    factories.make_contact(team, first_name="Ada", last_name="Lovelace")
    factories.make_contact(team, first_name="Bob", last_name="Stone")
    html = logged_in.get("/contacts?q=LOVE").get_data(as_text=True)
    assert "Ada Lovelace" in html and "Bob Stone" not in html


@pytest.mark.parametrize("common_prefix", [1, 2000])
def test_prefix_search_in_both_plans(logged_in, team, htmx_headers, monkeypatch, common_prefix):
    """A common prefix walks the sort index, a rare one unions index ranges: same answers."""
    from crm.contacts import queries

    monkeypatch.setattr(queries, "COMMON_PREFIX", common_prefix)
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    factories.make_contact(team, first_name="Jo", last_name="Zed")
    factories.make_contact(team, first_name="Ann", last_name="Jones")
    factories.make_contact(team, first_name="Bea", last_name="Kay", email="jbea@x.example")
    factories.make_contact(team, first_name="Cy", last_name="Moe")
    gone = factories.make_contact(team, first_name="Jim", last_name="Gone")
    gone.deleted_at = gone.created_at
    db.session.commit()
    factories.make_contact(
        factories.team_of(factories.make_user()), first_name="Jo", last_name="Other"
    )
    headers = {**htmx_headers, "HX-Target": "contact-results"}
    first = logged_in.get("/contacts?q=j", headers=headers).get_data(as_text=True)
    assert "Ann Jones" in first and "Bea Kay" in first  # name order: Ann, Bea, then Jo
    assert "Jo Zed" not in first and "Cy Moe" not in first and "Jo Other" not in first
    more = re.search(r'id="contacts-more"[^>]*hx-get="([^"]+)"', first).group(1)
    rest = logged_in.get(
        more.replace("&amp;", "&"), headers={**htmx_headers, "HX-Target": "contacts-more"}
    ).get_data(as_text=True)
    assert "Jo Zed" in rest and "Jim Gone" not in rest and "Ann Jones" not in rest


def test_prefix_search_with_a_tag(logged_in, team, owner, htmx_headers):
    from crm.contacts import services as contacts

    tagged = factories.make_contact(team, first_name="Jan", last_name="Tagged")
    factories.make_contact(team, first_name="Joe", last_name="Plain")
    factories.make_contact(team, first_name="Kim", last_name="Tagged2")
    contacts.update_contact(tagged, owner.id, {"tags": ["vip"]})
    tag_id = tagged.tags[0].id
    html = logged_in.get(
        f"/contacts?q=j&tag={tag_id}", headers={**htmx_headers, "HX-Target": "contact-results"}
    ).get_data(as_text=True)
    assert "Jan Tagged" in html and "Joe Plain" not in html and "Kim Tagged2" not in html


def _with_many(team, first_name: str, n: int, start: int = 0):
    from crm.models import ContactEmail, ContactPhone

    contact = factories.make_contact(team, first_name=first_name, email=False)
    contact.emails = [
        ContactEmail(team_id=team.id, email=f"{first_name.lower()}{i}@x.example", position=i)
        for i in range(n)
    ]
    contact.phones = [
        ContactPhone(team_id=team.id, e164=f"+1415555{start + i:04d}", position=i) for i in range(n)
    ]
    db.session.commit()
    return contact


def _posted_rows(html: str) -> dict[str, str]:
    """What the browser would post back from the edit page's email and phone rows."""
    data = {}
    for name, value in re.findall(r'name="((?:emails|phones)-\d+-\w+)"[^>]*?value="([^"]*)"', html):
        data[name] = value
    for name in re.findall(r'<select[^>]*name="((?:emails|phones)-\d+-label)"', html):
        data.setdefault(name, "work" if name.startswith("emails") else "mobile")
    return data


def test_a_contact_with_many_emails_and_phones_can_be_edited(logged_in, team):
    contact = _with_many(team, "Many", 12)
    page = logged_in.get(f"/contacts/{contact.id}/edit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="many11@x.example"' in html and ">Email 13</label>" in html  # a blank row
    data = _posted_rows(html) | {"first_name": "Many", "owner_id": "0", "lifecycle": "lead"}
    data["emails-12-email"] = "many12@x.example"
    response = logged_in.post(f"/contacts/{contact.id}/edit", data=data)
    assert response.status_code == 303
    db.session.expire_all()
    assert len(contact.emails) == 13 and len(contact.phones) == 12  # none dropped


def test_merging_two_contacts_with_five_each_then_editing_works(logged_in, team, owner):
    from crm.dedupe import services as dedupe

    kept, other = _with_many(team, "Kept", 5), _with_many(team, "Other", 5, start=100)
    dedupe.merge(kept, other, owner.id, {})
    html = logged_in.get(f"/contacts/{kept.id}/edit").get_data(as_text=True)
    data = _posted_rows(html) | {"first_name": "Kept", "owner_id": "0", "lifecycle": "lead"}
    response = logged_in.post(f"/contacts/{kept.id}/edit", data=data)
    assert response.status_code == 303
    db.session.expire_all()
    assert len(kept.emails) == 10 and len(kept.phones) == 10


def test_too_many_emails_or_odd_row_keys_are_a_form_error_not_a_500(logged_in, team):
    base = {"first_name": "Ann", "owner_id": "0", "lifecycle": "lead"}
    many = {f"emails-{i}-email": f"ann{i}@x.example" for i in range(51)}
    response = logged_in.post("/contacts/new", data=base | many)
    assert response.status_code == 422
    assert "A contact can have at most 50 email addresses." in response.get_data(as_text=True)
    odd = base | {"emails-²-email": "a@x.example", "emails-99999999999999999999-email": "b@x.ex"}
    response = logged_in.post("/contacts/new", data=odd)
    assert response.status_code == 303


def test_an_absurd_idle_filter_is_ignored_not_a_500(logged_in, team):
    factories.make_contact(team, first_name="Ada", last_name="Lovelace")
    for value in ("9" * 30, "100000", "-5", "1e9"):
        response = logged_in.get("/contacts", query_string={"idle": value})
        assert response.status_code == 200 and b"Ada Lovelace" in response.data, value
