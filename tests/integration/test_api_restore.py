"""Bringing contacts, companies and deals back from the trash through the API, as the web does."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.kernel.features import KEY, Feature
from crm.models import AuditEvent
from tests import factories
from tests.integration.test_api import bearer


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


@pytest.fixture
def api(owner):
    return bearer(owner)


@pytest.fixture
def heard(app, monkeypatch):
    seen = []
    probe = Feature("probe", subscribers=(seen.extend,))
    monkeypatch.setitem(app.extensions, KEY, (*app.extensions[KEY], probe))
    return seen


def _make(client, api, kind: str) -> int:
    body = {
        "contacts": {"first_name": "Ada"},
        "companies": {"name": "Initech"},
        "deals": {"title": "Forty seats"},
    }[kind]
    made = client.post(f"/api/v1/{kind}", json=body, headers=api)
    assert made.status_code == 201, made.get_json()
    return made.get_json()["id"]


@pytest.mark.parametrize(
    ("kind", "entity"), [("contacts", "contact"), ("companies", "company"), ("deals", "deal")]
)
def test_a_trashed_record_comes_back_audited_and_told(client, team, api, heard, kind, entity):
    record_id = _make(client, api, kind)
    assert client.delete(f"/api/v1/{kind}/{record_id}", headers=api).status_code == 204
    assert client.get(f"/api/v1/{kind}/{record_id}", headers=api).status_code == 404

    restored = client.post(f"/api/v1/{kind}/{record_id}/restore", headers=api)

    assert restored.status_code == 200, restored.get_json()
    assert restored.get_json()["deleted_at"] is None
    assert restored.headers["ETag"]
    assert client.get(f"/api/v1/{kind}/{record_id}", headers=api).status_code == 200
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity_type == entity, AuditEvent.entity_id == record_id)
        .order_by(AuditEvent.id)
    ).all()
    assert actions[-2:] == ["delete", "restore"]
    assert [ev.name for ev in heard][-1] == f"{entity}.restored"


def test_restoring_a_record_that_is_not_in_the_trash_changes_nothing(client, team, api, heard):
    contact_id = _make(client, api, "contacts")
    before = len(heard)
    again = client.post(f"/api/v1/contacts/{contact_id}/restore", headers=api)
    assert again.status_code == 200
    assert len(heard) == before


def test_another_teams_trashed_record_is_not_found(client, team, api):
    contact_id = _make(client, api, "contacts")
    client.delete(f"/api/v1/contacts/{contact_id}", headers=api)
    stranger = factories.make_user(name="Sam", email="sam@other.example", team_name="Other")
    theirs = bearer(stranger)
    answer = client.post(f"/api/v1/contacts/{contact_id}/restore", headers=theirs)
    assert answer.status_code == 404
    still = client.get("/api/v1/contacts?include_deleted=true", headers=api).get_json()["data"]
    assert still[0]["deleted_at"] is not None


def test_a_read_only_token_cannot_restore(client, team, api, owner):
    contact_id = _make(client, api, "contacts")
    client.delete(f"/api/v1/contacts/{contact_id}", headers=api)
    reader = bearer(owner, scope="read")
    assert client.post(f"/api/v1/contacts/{contact_id}/restore", headers=reader).status_code == 403
