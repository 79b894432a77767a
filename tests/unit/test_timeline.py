"""Timeline services and queries: entries, pages, pinning, company roll-up, follow-ups."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from crm.errors import Forbidden, Invalid
from crm.extensions import db
from crm.models import Task, utcnow
from crm.timeline import services as timeline
from crm.timeline.queries import timeline_page
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def test_add_entries_and_validate(team, owner):
    contact = factories.make_contact(team)
    note = timeline.add_entry(contact, owner.id, "note", {"body": "Likes tea."})
    call = timeline.add_entry(
        contact, owner.id, "call", {"outcome": "connected", "duration_minutes": "12"}
    )
    assert call.duration_minutes == 12 and call.outcome == "connected"
    assert contact.last_activity_at is not None
    with pytest.raises(Invalid):
        timeline.add_entry(contact, owner.id, "note", {"body": "  "})
    with pytest.raises(Invalid):
        timeline.add_entry(contact, owner.id, "call", {"outcome": "shouted"})
    with pytest.raises(Invalid):
        timeline.add_entry(contact, owner.id, "system", {"body": "x"})
    page = timeline_page(contact)
    assert [a.id for a in page.items] == [call.id, note.id]


def test_only_the_author_edits_or_deletes(team, owner):
    contact = factories.make_contact(team)
    other = factories.make_member(team)
    note = timeline.add_entry(contact, owner.id, "note", {"body": "Mine"})
    with pytest.raises(Forbidden):
        timeline.update_entry(note, other.id, {"body": "Theirs"})
    timeline.update_entry(note, owner.id, {"body": "Still mine"})
    assert note.body == "Still mine"
    timeline.delete_entry(note, owner.id)
    assert timeline_page(contact).items == []
    timeline.restore_entry(note, owner.id)
    assert [a.id for a in timeline_page(contact).items] == [note.id]


def test_pages_pinned_and_filters(team, owner):
    contact = factories.make_contact(team)
    start = utcnow() - timedelta(days=10)
    entries = [
        factories.make_activity(
            team, contacts=[contact], body=f"n{i}", occurred_at=start + timedelta(hours=i)
        )
        for i in range(7)
    ]
    call = factories.make_activity(team, contacts=[contact], kind="call", body="c")
    timeline.set_pinned(entries[0], owner.id, True)
    first = timeline_page(contact, limit=3)
    assert [a.id for a in first.pinned] == [entries[0].id]
    assert [a.id for a in first.items] == [call.id, entries[6].id, entries[5].id]
    second = timeline_page(contact, cursor=first.next_cursor, limit=3)
    assert [a.id for a in second.items] == [entries[4].id, entries[3].id, entries[2].id]
    third = timeline_page(contact, cursor=second.next_cursor, limit=3)
    assert [a.id for a in third.items] == [entries[1].id]  # the pinned one is shown on top
    assert third.next_cursor is None and third.pinned == []
    calls = timeline_page(contact, kind="calls")
    assert [a.id for a in calls.items] == [call.id]


def test_company_timeline_includes_its_people(team, owner):
    company = factories.make_company(team)
    person = factories.make_contact(team, company_id=company.id)
    stranger = factories.make_contact(team)
    own = timeline.add_entry(company, owner.id, "note", {"body": "Company note"})
    theirs = factories.make_activity(team, contacts=[person], body="Person note")
    factories.make_activity(team, contacts=[stranger], body="Elsewhere")
    ids = [a.id for a in timeline_page(company).items]
    assert ids == [theirs.id, own.id]


def test_follow_up_creates_a_task(team, owner):
    contact = factories.make_contact(team, first_name="Ann", last_name="Lee")
    timeline.add_entry(
        contact, owner.id, "call", {"outcome": "no answer", "follow_up_on": date(2030, 1, 2)}
    )
    task = db.session.scalars(select(Task)).one()
    assert task.contact_id == contact.id and task.assignee_id == owner.id
    assert task.title == "Follow up: Ann Lee"
    assert task.due_at.date() == date(2030, 1, 2)
