"""Custom fields over the API: read and written as `custom_fields` by key, validated like the
forms, filterable on the contact list, audited, and in webhook payloads."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEvent, Pipeline, WebhookDelivery
from crm.webhooks import services as webhooks
from tests import factories
from tests.integration.test_api import bearer


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


@pytest.fixture
def api(owner):
    return bearer(owner)


@pytest.fixture
def plan(team):
    return factories.make_custom_field(team, label="Plan", type="select")


@pytest.fixture
def seats(team):
    return factories.make_custom_field(team, label="Seats", type="number")


def option_id(field, label: str) -> str:
    return next(o["id"] for o in field.options if o["label"] == label)


def test_a_contact_is_created_and_changed_with_custom_values(client, api, team, plan, seats):
    renewal = factories.make_custom_field(team, label="Renewal", type="date")
    made = client.post(
        "/api/v1/contacts",
        json={"first_name": "Ada", "custom_fields": {"plan": "Pro", "seats": 40}},
        headers=api,
    )
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["custom_fields"] == {"plan": option_id(plan, "Pro"), "seats": 40, "renewal": None}
    assert renewal.key == "renewal"

    patched = client.patch(
        f"/api/v1/contacts/{body['id']}",
        json={"custom_fields": {"renewal": "2027-03-01", "seats": None}},
        headers=api,
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["custom_fields"] == {
        "plan": option_id(plan, "Pro"),
        "seats": None,
        "renewal": "2027-03-01",
    }
    assert patched.headers["ETag"] != made.headers["ETag"]
    changes = db.session.scalars(
        select(AuditEvent.changes).where(
            AuditEvent.entity_type == "contact", AuditEvent.entity_id == body["id"]
        )
    ).all()
    assert any("Renewal" in (c or {}) for c in changes)
    got = client.get(f"/api/v1/contacts/{body['id']}", headers=api).get_json()
    assert got["custom_fields"]["renewal"] == "2027-03-01"


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"plan": "Platinum"}, "custom_fields.plan", "not an option"),
        ({"seats": "many"}, "custom_fields.seats", "not a number"),
        ({"colour": "red"}, "custom_fields.colour", "No custom field"),
    ],
)
def test_a_bad_custom_value_is_a_422_naming_it_and_nothing_is_saved(
    client, api, plan, seats, values, field, words
):
    answer = client.post(
        "/api/v1/contacts", json={"first_name": "Ada", "custom_fields": values}, headers=api
    )
    assert answer.status_code == 422
    errors = answer.get_json()["errors"]
    assert errors[0]["field"] == field and words in errors[0]["message"]
    assert client.get("/api/v1/contacts", headers=api).get_json()["data"] == []


def test_a_required_field_cannot_be_cleared(client, api, team):
    factories.make_custom_field(team, label="Region", type="text", required=True)
    made = client.post(
        "/api/v1/contacts",
        json={"first_name": "Ada", "custom_fields": {"region": "EU"}},
        headers=api,
    ).get_json()
    answer = client.patch(
        f"/api/v1/contacts/{made['id']}", json={"custom_fields": {"region": None}}, headers=api
    )
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["field"] == "custom_fields.region"


def test_the_contact_list_filters_by_custom_fields_like_the_page(client, api, plan, seats):
    for name, tier, count in (("Ada", "Pro", 40), ("Bob", "Basic", 3), ("Cy", "Pro", 2)):
        client.post(
            "/api/v1/contacts",
            json={"first_name": name, "custom_fields": {"plan": tier, "seats": count}},
            headers=api,
        )
    listed = client.get("/api/v1/contacts?cf_plan=Pro&cf_seats__min=10", headers=api)
    assert listed.status_code == 200
    assert [c["first_name"] for c in listed.get_json()["data"]] == ["Ada"]
    page = client.get("/api/v1/contacts?cf_plan=Pro", headers=api).get_json()["data"]
    assert [c["first_name"] for c in page] == ["Ada", "Cy"]
    assert [c["custom_fields"]["seats"] for c in page] == [40, 2]
    unknown = client.get("/api/v1/contacts?cf_colour=red", headers=api)
    assert unknown.status_code == 422
    assert unknown.get_json()["errors"][0]["field"] == "cf_colour"
    wrong_op = client.get("/api/v1/contacts?cf_plan__min=3", headers=api)
    assert wrong_op.status_code == 422


def test_companies_and_deals_carry_custom_fields_too(client, api, team):
    tier = factories.make_custom_field(team, label="Tier", type="select", entity="company")
    budget = factories.make_custom_field(team, label="Budget", type="money", entity="deal")
    company = client.post(
        "/api/v1/companies", json={"name": "Initech", "custom_fields": {"tier": "Pro"}}, headers=api
    )
    assert company.status_code == 201, company.get_json()
    assert company.get_json()["custom_fields"] == {"tier": option_id(tier, "Pro")}
    deal = client.post(
        "/api/v1/deals", json={"title": "Seats", "custom_fields": {"budget": 250000}}, headers=api
    )
    assert deal.status_code == 201, deal.get_json()
    assert deal.get_json()["custom_fields"] == {"budget": 250000}
    assert budget.currency == "USD"
    as_text = client.post(
        "/api/v1/deals", json={"title": "X", "custom_fields": {"budget": "2500.00"}}, headers=api
    )
    assert as_text.status_code == 422
    assert as_text.get_json()["errors"][0]["field"] == "custom_fields.budget"
    listed = client.get("/api/v1/deals", headers=api).get_json()["data"]
    assert [d["custom_fields"] for d in listed] == [{"budget": 250000}]
    assert db.session.scalars(select(Pipeline)).first() is not None


def test_the_team_fields_are_listed_for_clients(client, api, plan, team):
    factories.make_custom_field(team, label="Tier", type="select", entity="company")
    fields = client.get("/api/v1/custom-fields?entity=contact", headers=api).get_json()["data"]
    assert [(f["key"], f["type"]) for f in fields] == [("plan", "select")]
    assert [o["label"] for o in fields[0]["options"]] == ["Basic", "Pro", "Enterprise"]
    every = client.get("/api/v1/custom-fields", headers=api).get_json()["data"]
    assert {f["entity"] for f in every} == {"contact", "company"}
    other = factories.make_user(name="Zed", email="zed@other.example", team_name="Other")
    theirs = client.get("/api/v1/custom-fields", headers=bearer(other)).get_json()["data"]
    assert theirs == []


def test_webhook_payloads_carry_custom_fields_and_a_custom_change_is_told(
    client, api, plan, team, owner
):
    webhooks.create_webhook(
        team.id,
        owner.id,
        url="http://127.0.0.1:9/hook",
        events=("contact.created", "contact.updated"),
    )
    made = client.post(
        "/api/v1/contacts",
        json={"first_name": "Ada", "custom_fields": {"plan": "Pro"}},
        headers=api,
    ).get_json()
    client.patch(
        f"/api/v1/contacts/{made['id']}", json={"custom_fields": {"plan": "Basic"}}, headers=api
    )
    rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert [r.event for r in rows] == ["contact.created", "contact.updated"]
    created, updated = (json.loads(r.payload) for r in rows)
    assert created["data"]["custom_fields"] == {"plan": option_id(plan, "Pro")}
    assert updated["changes"] == {"Plan": ["Pro", "Basic"]}
    assert updated["data"]["custom_fields"] == {"plan": option_id(plan, "Basic")}


def test_the_company_and_deal_lists_filter_by_custom_fields_like_the_pages(client, api, team):
    factories.make_custom_field(team, label="Tier", type="select", entity="company")
    factories.make_custom_field(team, label="Budget", type="number", entity="deal")
    for name, tier in (("Acme", "Pro"), ("Globex", "Basic"), ("Initech", "Pro")):
        made = client.post(
            "/api/v1/companies", json={"name": name, "custom_fields": {"tier": tier}}, headers=api
        )
        assert made.status_code == 201, made.get_json()
    for title, budget in (("Big", 500), ("Small", 5), ("Huge", 900)):
        made = client.post(
            "/api/v1/deals", json={"title": title, "custom_fields": {"budget": budget}}, headers=api
        )
        assert made.status_code == 201, made.get_json()

    companies = client.get("/api/v1/companies?cf_tier=Pro", headers=api)
    assert companies.status_code == 200, companies.get_json()
    assert [c["name"] for c in companies.get_json()["data"]] == ["Acme", "Initech"]
    narrowed = client.get("/api/v1/companies?cf_tier=Pro&q=ini", headers=api).get_json()
    assert [c["name"] for c in narrowed["data"]] == ["Initech"]
    deals = client.get("/api/v1/deals?cf_budget__min=100&sort=title", headers=api)
    assert deals.status_code == 200, deals.get_json()
    assert [d["title"] for d in deals.get_json()["data"]] == ["Big", "Huge"]
    synced = client.get("/api/v1/deals?cf_budget__max=10&include_deleted=true", headers=api)
    assert [d["title"] for d in synced.get_json()["data"]] == ["Small"]

    for url, name in (
        ("/api/v1/companies?cf_colour=red", "cf_colour"),
        ("/api/v1/companies?cf_tier__min=3", "cf_tier__min"),
        ("/api/v1/deals?cf_budget__any=1,2", "cf_budget__any"),
        ("/api/v1/deals?cf_tier=Pro", "cf_tier"),  # a company field is not a deal's
    ):
        answer = client.get(url, headers=api)
        assert answer.status_code == 422, url
        assert answer.get_json()["errors"][0]["field"] == name
