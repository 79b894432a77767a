"""Pipeline, stage and lost-reason settings."""

from __future__ import annotations

import json

from sqlalchemy import select

from crm.deals import queries
from crm.extensions import db
from crm.models import LostReason, Role, Stage
from tests import factories


def test_settings_tab_and_page(logged_in, owner):
    html = logged_in.get("/settings/pipelines").get_data(as_text=True)
    assert 'href="/settings/pipelines"' in html and 'aria-current="page"' in html
    assert 'id="pipelines-settings"' in html
    for name in ("Lead in", "Qualified", "Proposal", "Negotiation"):
        assert name in html
    assert "Lost reasons" in html


def test_members_cannot_edit_pipelines(client, auth, owner):
    member = factories.make_member(factories.team_of(owner), role=Role.MEMBER)
    auth.login(member.email)
    assert client.get("/settings/pipelines").status_code == 403


def test_add_edit_reorder_and_delete_stages(logged_in, owner, htmx_headers):
    team = factories.team_of(owner)
    pipeline = queries.current_pipeline(team.id, None)
    response = logged_in.post(
        f"/settings/pipelines/{pipeline.id}/stages",
        data={
            f"new-{pipeline.id}-name": "Contract",
            f"new-{pipeline.id}-probability": "90",
            f"new-{pipeline.id}-rot_days": "3",
        },
        headers=htmx_headers,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="pipelines-settings"')
    stage_id = json.loads(response.headers["HX-Trigger"])["stage-added"]["stage_id"]
    stage = db.session.get(Stage, stage_id)
    assert (stage.name, stage.probability, stage.rot_days, stage.position) == ("Contract", 90, 3, 4)

    bad = logged_in.post(
        f"/settings/pipelines/stages/{stage.id}",
        data={f"stage-{stage.id}-name": "Contract", f"stage-{stage.id}-probability": "150"},
        headers=htmx_headers,
    )
    assert bad.status_code == 422 and f'id="stage-{stage.id}-probability-error"' in bad.get_data(
        as_text=True
    )
    ok = logged_in.post(
        f"/settings/pipelines/stages/{stage.id}",
        data={f"stage-{stage.id}-name": "Signed", f"stage-{stage.id}-probability": "95"},
        headers=htmx_headers,
    )
    assert ok.status_code == 200
    db.session.refresh(stage)
    assert (stage.name, stage.probability, stage.rot_days) == ("Signed", 95, None)

    ids = [s.id for s in pipeline.stages]
    new_order = [ids[-1], *ids[:-1]]
    response = logged_in.post(
        f"/settings/pipelines/{pipeline.id}/order", data={"stage": new_order}, headers=htmx_headers
    )
    assert response.status_code == 200
    db.session.expire_all()
    assert [s.id for s in queries.current_pipeline(team.id, None).stages] == new_order
    logged_in.post(f"/settings/pipelines/stages/{stage.id}/move", data={"direction": "down"})
    db.session.expire_all()
    assert [s.id for s in queries.current_pipeline(team.id, None).stages][1] == stage.id

    factories.make_deal(team, stage=stage)
    refused = logged_in.post(f"/settings/pipelines/stages/{stage.id}/delete", headers=htmx_headers)
    assert refused.status_code == 422
    empty = pipeline.stages[0] if pipeline.stages[0].id != stage.id else pipeline.stages[1]
    assert logged_in.post(f"/settings/pipelines/stages/{empty.id}/delete").status_code == 200
    assert db.session.get(Stage, empty.id) is None


def test_pipelines_and_default(logged_in, owner, htmx_headers):
    team = factories.team_of(owner)
    response = logged_in.post(
        "/settings/pipelines", data={"pipeline-name": "Partners"}, headers=htmx_headers
    )
    pid = json.loads(response.headers["HX-Trigger"])["pipeline-created"]["pipeline_id"]
    logged_in.post(f"/settings/pipelines/{pid}/rename", data={"name": "Channel"})
    logged_in.post(f"/settings/pipelines/{pid}/default")
    db.session.expire_all()
    current = queries.current_pipeline(team.id, None)
    assert (current.id, current.name) == (pid, "Channel")
    board = logged_in.get("/deals").get_data(as_text=True)
    assert 'id="filter-pipeline"' in board  # the switcher appears with two pipelines
    assert logged_in.post(f"/settings/pipelines/{pid}/delete").status_code == 200
    assert len(queries.pipelines(team.id)) == 1


def test_lost_reasons(logged_in, owner, htmx_headers):
    team = factories.team_of(owner)
    response = logged_in.post(
        "/settings/pipelines/lost-reasons", data={"reason-name": "Went dark"}, headers=htmx_headers
    )
    rid = json.loads(response.headers["HX-Trigger"])["lost-reason-added"]["lost_reason_id"]
    logged_in.post(f"/settings/pipelines/lost-reasons/{rid}", data={"name": "Ghosted"})
    assert db.session.get(LostReason, rid).name == "Ghosted"
    logged_in.post(f"/settings/pipelines/lost-reasons/{rid}/delete")
    names = db.session.scalars(select(LostReason.name).where(LostReason.team_id == team.id)).all()
    assert "Ghosted" not in names
