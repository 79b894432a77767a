"""kernel.timeline.record_many: many entries under record()'s rules, found by search after
the commit like any entry."""

from __future__ import annotations

from sqlalchemy import select

from crm.extensions import db
from crm.kernel import timeline
from crm.models import Activity, ActivityContact, ActivityKind, Contact, utcnow
from crm.search import services as search
from tests import factories


def test_entries_are_linked_in_order_and_found_by_search_after_commit(owner, run_jobs):
    team = factories.team_of(owner)
    company = factories.make_company(team, name="Northwind")
    ann = factories.make_contact(team, first_name="Ann", company_id=company.id)
    bob = factories.make_contact(team, first_name="Bob")
    when = utcnow()
    ids = timeline.record_many(
        team_id=team.id,
        kind=ActivityKind.EMAIL,
        author_id=owner.id,
        occurred_at=when,
        entries=[
            {"contact_ids": [ann.id, ann.id], "company_id": company.id, "subject": "Quokka"},
            {"contact_ids": [bob.id], "subject": "Wombat", "data": {"outbox_id": 7}},
        ],
    )
    db.session.commit()
    activities = {a.id: a for a in db.session.scalars(select(Activity))}
    assert [activities[i].subject for i in ids] == ["Quokka", "Wombat"]
    assert activities[ids[1]].data == {"outbox_id": 7}
    links = db.session.execute(select(ActivityContact.activity_id, ActivityContact.contact_id))
    assert sorted(links) == sorted([(ids[0], ann.id), (ids[1], bob.id)])  # each contact once
    db.session.expire_all()
    assert db.session.get(Contact, ann.id).last_activity_at is not None

    run_jobs()
    found = search.search(team.id, None, "wombat")
    assert [hit.id for hit in found.hits] == [ids[1]]  # the email entry


def test_a_rollback_forgets_what_would_have_been_indexed(owner):
    team = factories.team_of(owner)
    ann = factories.make_contact(team, first_name="Ann")
    timeline.record_many(
        team_id=team.id,
        kind=ActivityKind.NOTE,
        author_id=owner.id,
        occurred_at=utcnow(),
        entries=[{"contact_ids": [ann.id], "subject": "gone"}],
    )
    db.session.rollback()
    assert timeline.take_bulk_written(db.session) == set()
