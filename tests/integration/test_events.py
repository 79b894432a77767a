"""Domain events: told to subscribers only after the commit, from every service that changes a
record, whoever calls it (a page, email-in, an import, the API)."""

from __future__ import annotations

import pytest

from crm.companies import services as companies
from crm.contacts import services as contacts
from crm.deals import services as deals
from crm.extensions import db
from crm.inbound import intake
from crm.kernel import events
from crm.kernel.features import KEY, Feature
from crm.models import LostReason
from crm.tasks import services as tasks
from tests import factories


@pytest.fixture
def heard(app, monkeypatch):
    """Every event published to subscribers, in order (a probe feature subscribes)."""
    seen: list[events.Event] = []
    probe = Feature("probe", subscribers=(seen.extend,))
    monkeypatch.setitem(app.extensions, KEY, (*app.extensions[KEY], probe))
    return seen


@pytest.fixture
def owner_team(app):
    user = factories.make_user(name="Ed Events", email="ed@acme-sales.com", team_name="Acme")
    return user, factories.team_of(user)


def names(seen) -> list[str]:
    return [ev.name for ev in seen]


def test_an_event_is_told_after_the_commit_and_not_before(heard, owner_team):
    user, team = owner_team
    contact = contacts.create_contact(team.id, user.id, {"first_name": "Ada"}, commit=False)
    assert heard == []
    assert names(events.pending()) == ["contact.created"]
    db.session.commit()
    assert names(heard) == ["contact.created"]
    event = heard[0]
    assert (event.team_id, event.record_type, event.record_id, event.actor_id) == (
        team.id,
        "contact",
        contact.id,
        user.id,
    )


def test_a_rolled_back_change_tells_nobody(heard, owner_team):
    user, team = owner_team
    contacts.create_contact(team.id, user.id, {"first_name": "Ghost"}, commit=False)
    db.session.rollback()
    factories.make_company(team)  # a later, unrelated commit
    assert heard == []


def test_a_rolled_back_savepoint_drops_only_its_own_events(heard, owner_team):
    user, team = owner_team
    kept = contacts.create_contact(team.id, user.id, {"first_name": "Kept"}, commit=False)
    savepoint = db.session.begin_nested()
    contacts.create_contact(team.id, user.id, {"first_name": "Skipped"}, commit=False)
    savepoint.rollback()
    savepoint = db.session.begin_nested()
    also = contacts.create_contact(team.id, user.id, {"first_name": "Also"}, commit=False)
    savepoint.commit()
    assert heard == []  # a released savepoint is not a commit
    db.session.commit()
    assert [(ev.name, ev.record_id) for ev in heard] == [
        ("contact.created", kept.id),
        ("contact.created", also.id),
    ]


def test_a_failing_subscriber_neither_breaks_the_change_nor_silences_the_others(
    app, monkeypatch, owner_team
):
    user, team = owner_team
    seen = []

    def broken(_events):
        raise RuntimeError("subscriber bug")

    features = (*app.extensions[KEY], Feature("broken", subscribers=(broken,)))
    features = (*features, Feature("probe", subscribers=(seen.extend,)))
    monkeypatch.setitem(app.extensions, KEY, features)
    contact = contacts.create_contact(team.id, user.id, {"first_name": "Ada"})
    assert contact.id is not None and names(seen) == ["contact.created"]


def test_contact_company_and_task_services_emit_their_events(heard, owner_team):
    user, team = owner_team
    contact = contacts.create_contact(team.id, user.id, {"first_name": "Ada"})
    contacts.update_contact(contact, user.id, {"last_name": "Lovelace"})
    contacts.update_contact(contact, user.id, {"last_name": "Lovelace"})  # no change: no event
    contacts.delete_contact(contact, user.id)
    company = companies.create_company(team.id, user.id, {"name": "Analytical Engines"})
    companies.update_company(company, user.id, {"name": "Analytical Engines Ltd"})
    companies.delete_company(company, user.id)
    task = tasks.create_task(team.id, user.id, title="Call Ada")
    tasks.update_task(task, title="Call Ada back", assignee_id=user.id)
    tasks.complete_task(task, user.id)
    tasks.delete_task(task)
    assert names(heard) == [
        "contact.created",
        "contact.updated",
        "contact.deleted",
        "company.created",
        "company.updated",
        "company.deleted",
        "task.created",
        "task.updated",
        "task.updated",
        "task.deleted",
    ]
    assert heard[1].changes == {"Last name": ["—", "Lovelace"]}
    assert heard[8].changes == {"done": [False, True]}


def test_deal_services_emit_created_stage_changed_won_lost_and_deleted(heard, owner_team):
    user, team = owner_team
    pipeline = team.pipelines[0] if getattr(team, "pipelines", None) else None
    pipeline = pipeline or factories.make_pipeline(team)
    first, second = pipeline.stages[0], pipeline.stages[1]
    deal = deals.create_deal(
        team_id=team.id, title="Big one", stage=first, currency="EUR", actor_id=user.id
    )
    deals.update_deal(deal, actor_id=user.id, title="Bigger one")
    deals.move_deal(deal, second, actor_id=user.id)
    deals.mark_won(deal, actor_id=user.id)
    other = deals.create_deal(team_id=team.id, title="Small", stage=first, currency="EUR")
    reason = LostReason(team_id=team.id, name="Too pricey")
    db.session.add(reason)
    db.session.commit()
    deals.mark_lost(other, reason=reason, actor_id=user.id)
    deals.delete_deal(other, actor_id=user.id)
    assert names(heard) == [
        "deal.created",
        "deal.updated",
        "deal.stage_changed",
        "deal.won",
        "deal.created",
        "deal.lost",
        "deal.deleted",
    ]
    assert heard[2].changes == {"stage": [first.name, second.name]}


def test_email_in_emits_email_logged_from_the_job(heard, app, run_jobs):
    user = factories.make_user(name="Rep Smith", email="rep@acme-sales.com", team_name="Acme")
    from email.message import EmailMessage as Mime

    msg = Mime()
    msg["From"] = "Rep Smith <rep@acme-sales.com>"
    msg["To"] = "Jane Doe <jane@northwind.example>"
    msg["Subject"] = "Pricing"
    msg["Message-ID"] = "<events-1@acme-sales.com>"
    msg["Date"] = "Mon, 15 Jan 2024 10:00:00 +0000"
    msg.set_content("Here are the prices.")
    address = f"{user.inbound_token}@{app.config['INBOUND_DOMAIN']}"
    intake.accept(msg.as_bytes(), envelope_to=address, envelope_from=None, via="smtp")
    run_jobs()
    logged = [ev for ev in heard if ev.name == "email.logged"]
    assert len(logged) == 1 and logged[0].record_type == "activity"
    # The contact email-in created for Jane is a contact.created like any other.
    assert "contact.created" in names(heard)
