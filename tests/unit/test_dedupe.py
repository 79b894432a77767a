"""Likely duplicates and merge/undo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.dedupe import services
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.models import (
    Activity,
    ActivityContact,
    ActivityKind,
    AuditEvent,
    Contact,
    ContactMerge,
    Deal,
    Lifecycle,
    Tag,
    Task,
)
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def test_same_email_or_phone_is_a_duplicate(team):
    ann = factories.make_contact(
        team, first_name="Ann", email="ann@example.com", phone="+15551234567"
    )
    factories.make_contact(team, first_name="Bob", email="bob@example.com")
    assert services.find_duplicates(team.id, {"emails": [{"email": " ANN@example.com"}]}) == [ann]
    assert services.find_duplicates(team.id, {"phones": [{"phone": "(555) 123-4567"}]}) == [ann]
    assert services.find_duplicates(team.id, {"emails": ["nobody@example.com"]}) == []


def test_similar_name_at_the_same_company_is_a_duplicate(team):
    acme = factories.make_company(team, name="Acme")
    other = factories.make_company(team, name="Other")
    jon = factories.make_contact(team, first_name="Jonathan", last_name="Smith", company=acme)
    data = {"first_name": "Jonathon", "last_name": "Smith", "company_id": acme.id}
    assert services.find_duplicates(team.id, data) == [jon]
    assert services.find_duplicates(team.id, data | {"company_id": other.id}) == []
    assert services.find_duplicates(team.id, data | {"first_name": "Maria"}) == []
    assert services.find_duplicates(team.id, data, exclude_id=jon.id) == []


def test_duplicates_stay_inside_the_team_and_out_of_the_trash(team):
    stranger = factories.team_of(factories.make_user())
    factories.make_contact(stranger, email="ann@example.com")
    gone = factories.make_contact(team, email="gone@example.com")
    gone.deleted_at = gone.created_at
    db.session.commit()
    assert services.find_duplicates(team.id, {"emails": ["ann@example.com"]}) == []
    assert services.find_duplicates(team.id, {"emails": ["gone@example.com"]}) == []


def test_duplicate_pairs_across_the_team(team):
    acme = factories.make_company(team, name="Acme")
    a = factories.make_contact(team, first_name="Ann", last_name="Lee", company=acme)
    b = factories.make_contact(team, first_name="Ann", last_name="Lee", company=acme)
    c = factories.make_contact(team, phone="+15550001111")
    d = factories.make_contact(team, phone="+15550001111")
    found = {(x.id, y.id, why) for x, y, why in services.duplicate_pairs(team.id)}
    assert found == {(a.id, b.id, "same name and company"), (c.id, d.id, "same phone")}


def _world(team, owner):
    acme = factories.make_company(team, name="Acme")
    kept = factories.make_contact(
        team,
        first_name="Ann",
        last_name="Lee",
        email="ann@work.example",
        title=None,
        lifecycle=Lifecycle.LEAD,
        phone="+15551230001",
    )
    other = factories.make_contact(
        team,
        first_name="Anne",
        last_name="Lee",
        email="ann@home.example",
        title="CEO",
        company=acme,
        lifecycle=Lifecycle.CUSTOMER,
        phone="+15551230002",
    )
    vip, old = Tag(team_id=team.id, name="vip"), Tag(team_id=team.id, name="old")
    kept.tags, other.tags = [old], [vip, old]
    db.session.commit()
    shared = factories.make_activity(team, contacts=[kept, other], body="Both were there")
    only_other = factories.make_activity(team, contacts=[other], body="Only Anne")
    deal = factories.make_deal(team, contacts=[other])
    task = factories.make_task(team, contact_id=other.id)
    return kept, other, shared, only_other, deal, task


def _links(contact_id):
    """The contact's timeline, without the system entries merge and undo add."""
    return set(
        db.session.scalars(
            select(ActivityContact.activity_id)
            .join(Activity, Activity.id == ActivityContact.activity_id)
            .where(ActivityContact.contact_id == contact_id, Activity.kind != ActivityKind.SYSTEM)
        )
    )


def test_merge_moves_everything_and_undo_restores_it(team, owner):
    kept, other, shared, only_other, deal, task = _world(team, owner)
    kept_links, other_links = _links(kept.id), _links(other.id)

    record = services.merge(
        kept, other, owner.id, {"title": "other", "company_id": "other", "first_name": "kept"}
    )
    db.session.expire_all()

    kept, other = db.session.get(Contact, kept.id), db.session.get(Contact, other.id)
    assert kept.first_name == "Ann" and kept.title == "CEO" and kept.company.name == "Acme"
    assert kept.lifecycle == Lifecycle.LEAD  # not chosen: kept's value stays
    assert {e.email for e in kept.emails} == {"ann@work.example", "ann@home.example"}
    assert {p.e164 for p in kept.phones} == {"+15551230001", "+15551230002"}
    assert {shared.id, only_other.id} <= _links(kept.id)
    assert _links(other.id) == set()
    assert [c.id for c in db.session.get(Deal, deal.id).contacts] == [kept.id]
    assert db.session.get(Task, task.id).contact_id == kept.id
    assert sorted(t.name for t in kept.tags) == ["old", "vip"]
    assert other.deleted_at is not None and other.emails == []
    audit = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == kept.id, AuditEvent.action == "merge")
    ).one()
    assert audit.changes["title"] == [None, "CEO"] and audit.actor_id == owner.id

    services.undo(db.session.get(ContactMerge, record.id), owner.id)
    db.session.expire_all()

    kept, other = db.session.get(Contact, kept.id), db.session.get(Contact, other.id)
    assert other.deleted_at is None
    assert kept.title is None and kept.company_id is None
    assert [e.email for e in kept.emails] == ["ann@work.example"]
    assert [e.email for e in other.emails] == ["ann@home.example"]
    assert [p.e164 for p in other.phones] == ["+15551230002"]
    assert _links(other.id) == other_links
    assert _links(kept.id) == kept_links
    assert shared.id in _links(kept.id) and only_other.id not in _links(kept.id)
    assert [c.id for c in db.session.get(Deal, deal.id).contacts] == [other.id]
    assert db.session.get(Task, task.id).contact_id == other.id
    assert [t.name for t in kept.tags] == ["old"]
    assert sorted(t.name for t in other.tags) == ["old", "vip"]
    with pytest.raises(Conflict):
        services.undo(db.session.get(ContactMerge, record.id), owner.id)


def test_undo_keeps_fields_edited_since_the_merge_and_says_which(team, owner):
    kept, other, *_ = _world(team, owner)
    other.social = {"linkedin": "https://linkedin.com/in/anne"}
    other.city = "Oslo"
    db.session.commit()
    record = services.merge(
        kept, other, owner.id, {"title": "other", "company_id": "other", "city": "other"}
    )
    kept = db.session.get(Contact, kept.id)
    assert kept.social == {"linkedin": "https://linkedin.com/in/anne"}
    kept.title = "Chief Executive"  # edited after the merge: must survive the undo
    kept.social = {"linkedin": "https://linkedin.com/in/ann-lee"}
    kept.notes = "Met again"  # not written by the merge at all
    db.session.commit()

    services.undo(db.session.get(ContactMerge, record.id), owner.id)
    db.session.expire_all()
    kept = db.session.get(Contact, kept.id)
    assert kept.title == "Chief Executive" and kept.notes == "Met again"
    assert kept.social == {"linkedin": "https://linkedin.com/in/ann-lee"}
    assert kept.company_id is None and kept.city is None  # untouched since: put back
    record = db.session.get(ContactMerge, record.id)
    assert record.snapshot["kept_on_undo"] == ["Title", "LinkedIn profile"]


def test_merge_undo_expires_after_30_days(team, owner):
    kept, other, *_ = _world(team, owner)
    record = services.merge(kept, other, owner.id, {})
    record.created_at = record.created_at - timedelta(days=31)
    db.session.commit()
    assert not services.can_undo(record)
    with pytest.raises(Invalid):
        services.undo(record, owner.id)


def test_a_contact_cannot_be_merged_into_itself(team, owner):
    ann = factories.make_contact(team)
    with pytest.raises(Invalid):
        services.merge(ann, ann, owner.id, {})


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("Jonathan", "Smith"), ("Jonathon", "Smith"), True),
        (("Jon", "Smith"), ("Jonathan", "Smith"), True),
        (("Smith", "Jonathan"), ("Jonathan", "Smith"), True),
        (("Ann", "Lee"), ("Ann", "Lee"), True),
        (("Jon", "Smith"), ("Jan", "Smith"), False),
        (("Imp1", "Person"), ("Imp2", "Person"), False),
        (("Ann", "Lee"), ("Ann", "Leeds"), False),
        (("Maria", "Garcia"), ("Mario", "Garcia"), False),
    ],
)
def test_name_similarity(a, b, same):
    assert (services.name_similarity(*a, *b) >= services.NAME_SIMILARITY) is same
