"""Automation's round-robin and call-a-webhook actions: fair turns shared with web-form leads,
a signed delivery sent by the worker (never the request), once even when the rule re-runs."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import select

from crm.automation import engine
from crm.contacts import services as contacts
from crm.extensions import db
from crm.kernel import rotation
from crm.models import (
    AutomationEffect,
    AutomationRule,
    AutomationRun,
    Contact,
    DeliveryStatus,
    Membership,
    RunStatus,
    WebhookDelivery,
)
from crm.webhooks import services as webhooks
from crm.webhooks.signing import verify
from tests import factories
from tests.integration.test_leads_processing import Receiver


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def make_rule(team, actions, trigger="contact_created") -> AutomationRule:
    row = AutomationRule(
        team_id=team.id,
        name="Route",
        trigger=trigger,
        trigger_config={},
        conditions=[],
        actions=actions,
    )
    db.session.add(row)
    db.session.commit()
    return row


def owners() -> list[int]:
    db.session.expire_all()
    return list(db.session.scalars(select(Contact.owner_id).order_by(Contact.id)))


def test_round_robin_assigns_in_turn_and_skips_away_members(team, owner, run_jobs):
    anna, ben, cleo = (factories.make_member(team, name=n) for n in ("Anna", "Ben", "Cleo"))
    db.session.execute(
        Membership.__table__.update().where(Membership.user_id == ben.id).values(away=True)
    )
    db.session.commit()
    make_rule(team, [{"type": "round_robin", "pool": [anna.id, ben.id, cleo.id]}])
    for i in range(4):
        contacts.create_contact(team.id, None, {"first_name": f"Lead {i}"})
        run_jobs()
    assert owners() == [anna.id, cleo.id, anna.id, cleo.id]
    outcomes = [r.outcomes[0]["text"] for r in db.session.scalars(select(AutomationRun))]
    assert outcomes[0].endswith(": Anna") and "round robin among Anna, Ben, Cleo" in outcomes[0]


def test_round_robin_shares_its_turns_with_web_form_leads_of_the_same_members(team, owner):
    """One rule for both: the kernel's rotation, keyed by the members, not a copy per feature."""
    anna, ben = factories.make_member(team, name="Anna"), factories.make_member(team, name="Ben")
    assert rotation.next_member(team.id, [anna.id, ben.id]) == anna.id
    db.session.commit()
    make_rule(team, [{"type": "round_robin", "pool": [ben.id, anna.id]}])
    contact = contacts.create_contact(team.id, None, {"first_name": "Next"})
    [run] = db.session.scalars(select(AutomationRun)).all()
    engine.run(run.id)
    assert db.session.get(Contact, contact.id).owner_id == anna.id  # turn 2 of [ben, anna]
    turns = Counter(rotation.next_member(team.id, [anna.id, ben.id]) for _ in range(4))
    assert turns == {anna.id: 2, ben.id: 2}


def test_round_robin_with_everyone_away_fails_the_run_with_a_reason(team, owner, run_jobs):
    anna = factories.make_member(team, name="Anna")
    db.session.execute(Membership.__table__.update().values(away=True))
    db.session.commit()
    make_rule(team, [{"type": "round_robin", "pool": [anna.id]}])
    contacts.create_contact(team.id, None, {"first_name": "Nobody's"})
    run_jobs()
    run = db.session.scalars(select(AutomationRun)).one()
    assert run.status == RunStatus.FAILED and "away" in run.error
    assert owners() == [None]


def test_call_webhook_posts_a_signed_payload_from_the_worker_once(
    team, owner, run_jobs, receiver, monkeypatch
):
    hook, secret = webhooks.create_webhook(team.id, owner.id, url=receiver.url, events=["deal.won"])
    rule = make_rule(team, [{"type": "call_webhook", "webhook_id": hook.id}])
    contact = contacts.create_contact(team.id, None, {"first_name": "Hooked"})
    [run] = db.session.scalars(select(AutomationRun)).all()
    assert receiver.bodies == []  # nothing is sent from the request that made the contact
    assert engine.run(run.id) == RunStatus.DONE
    [row] = db.session.scalars(select(WebhookDelivery)).all()
    assert row.status == DeliveryStatus.PENDING and row.event == "automation.rule_ran"
    run_jobs()
    [body] = receiver.bodies
    assert body["event"] == "automation.rule_ran" and body["data"]["id"] == contact.id
    assert body["changes"]["rule_id"] == rule.id and body["changes"]["run_id"] == run.id
    [(header, raw)] = receiver.signed
    assert verify(secret, raw, header, int(time.time()))
    assert not verify("whsec_other", raw, header, int(time.time()))
    db.session.expire_all()
    assert db.session.get(WebhookDelivery, row.id).status == DeliveryStatus.DELIVERED

    # A worker that died after the action committed re-runs the rule: no second call.
    db.session.execute(
        AutomationRun.__table__.update()
        .where(AutomationRun.id == run.id)
        .values(status=RunStatus.PENDING)
    )
    db.session.commit()
    engine.run(run.id)
    assert db.session.query(WebhookDelivery).count() == 1
    assert db.session.query(AutomationEffect).count() == 1


def test_call_webhook_to_a_paused_webhook_fails_the_run_with_a_reason(team, owner, run_jobs):
    hook, _ = webhooks.create_webhook(
        team.id, owner.id, url="http://127.0.0.1:9/x", events=["deal.won"]
    )
    webhooks.set_active(hook, False)
    make_rule(team, [{"type": "call_webhook", "webhook_id": hook.id}])
    contacts.create_contact(team.id, None, {"first_name": "Paused"})
    run_jobs()
    run = db.session.scalars(select(AutomationRun)).one()
    assert run.status == RunStatus.FAILED and "paused" in run.error
    assert db.session.query(WebhookDelivery).count() == 0


def test_an_admin_adds_round_robin_and_webhook_actions_in_settings(logged_in, team, owner):
    anna = factories.make_member(team, name="Anna")
    hook, _ = webhooks.create_webhook(
        team.id, owner.id, url="http://127.0.0.1:9/x", events=["deal.won"], description="Zapier"
    )
    page = logged_in.get("/settings/automation").get_data(as_text=True)
    assert '<label for="act_pool_0">' in page and '<label for="act_webhook_0">' in page
    assert "Zapier" in page
    response = logged_in.post(
        "/settings/automation",
        data={
            "name": "Route and tell",
            "trigger": "form_submitted",
            "act_type_0": "round_robin",
            "act_pool_0": [str(owner.id), str(anna.id)],
            "act_type_1": "call_webhook",
            "act_webhook_1": str(hook.id),
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    rule = db.session.scalars(select(AutomationRule)).one()
    assert rule.actions == [
        {"type": "round_robin", "value": "", "pool": [owner.id, anna.id]},
        {"type": "call_webhook", "value": "", "webhook_id": hook.id},
    ]
    edit = logged_in.get(f"/settings/automation/{rule.id}").get_data(as_text=True)
    picker = edit.split('id="act_pool_0"')[1].split("</select>")[0]
    assert picker.count("selected") == 2  # both teammates shown as chosen when editing


def test_a_webhook_or_teammate_of_another_team_is_refused(logged_in, team, owner):
    other_owner = factories.make_user(team_name="Other")
    other = factories.team_of(other_owner)
    theirs, _ = webhooks.create_webhook(
        other.id, other_owner.id, url="http://127.0.0.1:9/x", events=["deal.won"]
    )
    for data in (
        {"act_type_0": "call_webhook", "act_webhook_0": str(theirs.id)},
        {"act_type_0": "round_robin", "act_pool_0": [str(other_owner.id)]},
        {"act_type_0": "round_robin"},
    ):
        response = logged_in.post(
            "/settings/automation", data={"name": "Bad", "trigger": "contact_created", **data}
        )
        assert response.status_code == 422
    assert db.session.scalars(select(AutomationRule)).all() == []
