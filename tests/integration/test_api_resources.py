"""Companies, deals, tasks, the timeline, pipelines, tags and members over the API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import Activity, ActivityKind, AuditEvent, Deal, LostReason, Role, Task
from tests import factories
from tests.integration.test_api import bearer


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


@pytest.fixture
def api(owner):
    return bearer(owner)


def test_company_crud_and_a_contact_linked_to_it(client, api):
    made = client.post(
        "/api/v1/companies", json={"name": "Initech", "domain": "initech.example"}, headers=api
    )
    assert made.status_code == 201, made.get_json()
    company = made.get_json()
    assert (
        client.post("/api/v1/companies", json={"domain": "x.example"}, headers=api).status_code
        == 422
    )
    person = client.post(
        "/api/v1/contacts",
        json={"first_name": "Peter", "company_id": company["id"]},
        headers=api,
    ).get_json()
    assert person["company_id"] == company["id"]
    listed = client.get("/api/v1/companies?q=init", headers=api).get_json()["data"]
    assert [c["id"] for c in listed] == [company["id"]]
    patched = client.patch(
        f"/api/v1/companies/{company['id']}", json={"industry": "Software"}, headers=api
    ).get_json()
    assert patched["industry"] == "Software" and patched["domain"] == "initech.example"
    assert client.delete(f"/api/v1/companies/{company['id']}", headers=api).status_code == 204
    assert client.get(f"/api/v1/companies/{company['id']}", headers=api).status_code == 404


def test_a_deal_is_created_moved_won_like_on_the_board(client, team, api, owner):
    pipelines = client.get("/api/v1/pipelines", headers=api).get_json()["data"]
    default = next(p for p in pipelines if p["is_default"])
    first, second = default["stages"][0], default["stages"][1]
    contact = factories.make_contact(team)
    made = client.post(
        "/api/v1/deals",
        json={"title": "Renewal", "value_minor": 250000, "contact_ids": [contact.id]},
        headers=api,
    )
    assert made.status_code == 201, made.get_json()
    deal = made.get_json()
    assert deal["stage_id"] == first["id"] and deal["currency"] == team.currency
    assert deal["owner_id"] == owner.id and deal["contact_ids"] == [contact.id]

    moved = client.patch(
        f"/api/v1/deals/{deal['id']}",
        json={"stage_id": second["id"]},
        headers={**api, "If-Match": made.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["stage_id"] == second["id"]
    stage_change = db.session.scalars(
        select(Activity).where(Activity.deal_id == deal["id"], Activity.subject.like("Stage:%"))
    ).one()
    assert stage_change.subject == f"Stage: {first['name']} → {second['name']}"

    won = client.patch(f"/api/v1/deals/{deal['id']}", json={"status": "won"}, headers=api)
    assert won.get_json()["status"] == "won" and won.get_json()["closed_at"]
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "deal")
    ).all()
    assert actions == ["create", "won"]

    stale = client.patch(
        f"/api/v1/deals/{deal['id']}",
        json={"title": "x"},
        headers={**api, "If-Match": made.headers["ETag"]},
    )
    assert stale.status_code == 412


def test_losing_a_deal_needs_a_reason_of_the_team(client, team, api):
    deal = factories.make_deal(team)
    response = client.patch(f"/api/v1/deals/{deal.id}", json={"status": "lost"}, headers=api)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "lost_reason_id"
    reason = LostReason(team_id=team.id, name="Price")
    db.session.add(reason)
    db.session.commit()
    lost = client.patch(
        f"/api/v1/deals/{deal.id}",
        json={"status": "lost", "lost_reason_id": reason.id, "lost_note": "Too dear"},
        headers=api,
    )
    assert lost.get_json()["status"] == "lost"
    assert db.session.get(Deal, deal.id).lost_note == "Too dear"
    listed = client.get("/api/v1/deals?status=lost", headers=api).get_json()["data"]
    assert [d["id"] for d in listed] == [deal.id]


def test_tasks_created_edited_completed_and_reopened(client, team, api, owner):
    contact = factories.make_contact(team)
    made = client.post(
        "/api/v1/tasks",
        json={"title": "Call back", "due_date": "2030-01-15", "contact_id": contact.id},
        headers=api,
    )
    assert made.status_code == 201, made.get_json()
    task = made.get_json()
    assert task["assignee_id"] == owner.id and task["all_day"] and not task["done"]
    edited = client.patch(
        f"/api/v1/tasks/{task['id']}", json={"priority": "high"}, headers=api
    ).get_json()
    assert edited["priority"] == "high" and edited["title"] == "Call back"
    assert edited["due_at"] == task["due_at"]
    done = client.patch(f"/api/v1/tasks/{task['id']}", json={"done": True}, headers=api)
    assert done.get_json()["done"]
    assert db.session.scalars(
        select(Activity).where(Activity.kind == ActivityKind.TASK_DONE)
    ).first()
    open_ = client.get("/api/v1/tasks?status=open", headers=api).get_json()["data"]
    assert open_ == []
    client.patch(f"/api/v1/tasks/{task['id']}", json={"done": False}, headers=api)
    assert client.get("/api/v1/tasks?status=open", headers=api).get_json()["data"]
    bad = client.post("/api/v1/tasks", json={"title": "x", "assignee_id": 999999}, headers=api)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "assignee_id"
    assert client.delete(f"/api/v1/tasks/{task['id']}", headers=api).status_code == 204
    assert db.session.get(Task, task["id"]) is None


def test_log_a_call_and_read_the_timeline(client, team, api, owner):
    contact = factories.make_contact(team)
    call = client.post(
        "/api/v1/activities",
        json={
            "kind": "call",
            "contact_id": contact.id,
            "body": "Wants a quote",
            "outcome": "connected",
            "duration_minutes": 12,
        },
        headers=api,
    )
    assert call.status_code == 201, call.get_json()
    entry = call.get_json()
    assert entry["contact_ids"] == [contact.id] and entry["author_id"] == owner.id
    timeline = client.get(f"/api/v1/activities?contact={contact.id}", headers=api).get_json()
    assert [a["id"] for a in timeline["data"]] == [entry["id"]]
    edited = client.patch(
        f"/api/v1/activities/{entry['id']}", json={"duration_minutes": 15}, headers=api
    ).get_json()
    assert edited["duration_minutes"] == 15 and edited["body"] == "Wants a quote"
    two = client.post(
        "/api/v1/activities",
        json={"kind": "note", "contact_id": contact.id, "deal_id": 1, "body": "x"},
        headers=api,
    )
    assert two.status_code == 422
    email = client.post(
        "/api/v1/activities", json={"kind": "email", "contact_id": contact.id}, headers=api
    )
    assert email.status_code == 422 and email.get_json()["errors"][0]["field"] == "kind"


def test_someone_elses_note_cannot_be_changed(client, team, api):
    colleague = factories.make_member(team)
    contact = factories.make_contact(team)
    theirs = client.post(
        "/api/v1/activities",
        json={"kind": "note", "contact_id": contact.id, "body": "mine"},
        headers=bearer(colleague),
    ).get_json()
    response = client.patch(f"/api/v1/activities/{theirs['id']}", json={"body": "x"}, headers=api)
    assert response.status_code == 403


def test_tags_and_members(client, team, api, owner):
    member = factories.make_member(team, role=Role.ADMIN, name="Ann Admin")
    client.post("/api/v1/contacts", json={"first_name": "T", "tags": ["VIP"]}, headers=api)
    tags = client.get("/api/v1/tags", headers=api).get_json()["data"]
    assert [t["name"] for t in tags] == ["vip"]
    members = client.get("/api/v1/members", headers=api).get_json()["data"]
    assert {(m["user_id"], m["role"]) for m in members} == {
        (owner.id, "owner"),
        (member.id, "admin"),
    }
