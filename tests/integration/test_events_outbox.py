"""The event outbox: a change and its events commit together, so a webhook delivery is never
lost between the two — a failed commit leaves none, and a process that dies right after its
commit has its deliveries written by the sweep, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.contacts import services as contacts
from crm.extensions import db
from crm.kernel import events
from crm.models import Contact, EventOutbox, WebhookDelivery, utcnow
from crm.webhooks import delivery, services
from tests import factories
from tests.integration.test_webhooks import Receiver


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hook(team, owner, receiver):
    webhook, _ = services.create_webhook(
        team.id, owner.id, url=receiver.url, events=("contact.created", "contact.updated")
    )
    return webhook


@pytest.fixture
def dies_after_commit(monkeypatch):
    """The process dies between its commit and telling the subscribers: nothing after the
    commit runs (the only way to stop a process at that instant in a test). Calling the
    fixture's value brings back a healthy process (for the sweep)."""
    monkeypatch.setattr(events, "publish_committed", lambda evs: False)
    return monkeypatch.undo


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_event_row_commits_with_the_change_and_is_published_right_after(team, owner, hook):
    contact = contacts.create_contact(team.id, owner.id, {"first_name": "Ada"})
    row = db.session.scalars(select(EventOutbox)).one()
    assert (row.name, row.record_type, row.record_id) == ("contact.created", "contact", contact.id)
    assert row.published_at is not None
    assert count(WebhookDelivery) == 1


def test_a_change_whose_commit_fails_leaves_no_event_and_no_delivery(team, owner, hook):
    contacts.create_contact(team.id, owner.id, {"first_name": "Ghost"}, commit=False)
    # The same commit also breaks a rule of the database: all of it is rolled back.
    db.session.add(Contact(team_id=team.id, sort_name=None))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert count(EventOutbox) == 0
    assert count(WebhookDelivery) == 0
    assert events.sweep(now=utcnow() + timedelta(hours=1)) == 0
    assert count(WebhookDelivery) == 0


def test_a_process_dying_after_its_commit_still_delivers_through_the_sweep(
    team, owner, hook, receiver, dies_after_commit
):
    contact = contacts.create_contact(team.id, owner.id, {"first_name": "Ada"})
    assert count(WebhookDelivery) == 0  # the process "died": nobody was told
    revive = dies_after_commit
    revive()  # another process runs the sweep
    assert events.sweep() == 0  # the claim is still fresh: the committer may yet publish
    later = utcnow() + events.LEASE + timedelta(seconds=1)

    assert events.sweep(now=later) == 1

    rows = db.session.scalars(select(WebhookDelivery)).all()
    assert [(r.event, r.webhook_id) for r in rows] == [("contact.created", hook.id)]
    assert f'"id":{contact.id},' in rows[0].payload
    assert delivery.deliver_due() == 1
    assert len(receiver.received) == 1
    # A second sweep, or the subscribers told of the same event again, write nothing twice.
    assert events.sweep(now=later + timedelta(minutes=5)) == 0
    event = events._from_row(db.session.scalars(select(EventOutbox)).one())
    assert events.publish([event])
    assert count(WebhookDelivery) == 1


def test_a_failing_subscriber_leaves_the_event_for_the_sweep(app, team, owner, hook, monkeypatch):
    from crm.kernel.features import KEY, Feature

    calls = []

    def flaky(evs):
        calls.append(len(evs))
        if len(calls) == 1:
            raise RuntimeError("the database was busy")

    monkeypatch.setitem(
        app.extensions, KEY, (*app.extensions[KEY], Feature("flaky", subscribers=(flaky,)))
    )
    contacts.create_contact(team.id, owner.id, {"first_name": "Ada"})
    assert db.session.scalars(select(EventOutbox.published_at)).one() is None
    assert count(WebhookDelivery) == 1  # the other subscribers were told all the same

    assert events.sweep(now=utcnow() + events.LEASE + timedelta(seconds=1)) == 1
    assert calls == [1, 1]
    assert db.session.scalars(select(EventOutbox.published_at)).one() is not None
    assert count(WebhookDelivery) == 1
