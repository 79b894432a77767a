"""Task services: due dates in the assignee's zone, reminders, completion, recurrence, undo."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.models import Activity, ActivityKind, Task
from crm.tasks import recurrence, services
from tests import factories

NY = ZoneInfo("America/New_York")


@pytest.fixture
def rep(app):
    user = factories.make_user(name="Rita Rep", email="rita@example.com")
    user.timezone = "America/New_York"
    db.session.commit()
    return user


def test_all_day_due_date_is_the_start_of_the_day_in_the_assignees_zone(rep):
    team = factories.team_of(rep)
    task = services.create_task(team.id, rep.id, title="Call back", due_at=date(2026, 3, 10))
    assert task.all_day is True
    assert task.assignee_id == rep.id  # the actor by default
    assert task.due_at == datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # midnight EDT


def test_reminder_at_due_time_or_before(rep):
    team = factories.team_of(rep)
    due = datetime(2026, 3, 10, 15, 30, tzinfo=NY)
    timed = services.create_task(
        team.id, rep.id, title="Demo", due_at=due, all_day=False, remind_before=15
    )
    assert timed.remind_at == due - timedelta(minutes=15)
    at_due = services.create_task(
        team.id, rep.id, title="Demo 2", due_at=due, all_day=False, remind_before=0
    )
    assert at_due.remind_at == due
    # All-day tasks remind at 09:00 local on the due date.
    all_day = services.create_task(
        team.id, rep.id, title="Renewal", due_at=date(2026, 3, 10), remind_before=0
    )
    assert all_day.remind_at == datetime(2026, 3, 10, 9, 0, tzinfo=NY)
    none = services.create_task(team.id, rep.id, title="No reminder", due_at=date(2026, 3, 10))
    assert none.remind_at is None


def test_create_refuses_other_teams_links_and_assignees(rep):
    team = factories.team_of(rep)
    other = factories.make_user()
    other_team = factories.team_of(other)
    theirs = factories.make_contact(other_team)
    with pytest.raises(Invalid):
        services.create_task(team.id, rep.id, title="x", contact_id=theirs.id)
    with pytest.raises(Invalid):
        services.create_task(team.id, rep.id, title="x", assignee_id=other.id)
    with pytest.raises(Invalid):
        services.create_task(team.id, rep.id, title="   ")
    assert db.session.scalars(select(Task)).all() == []


def test_complete_writes_task_done_on_the_linked_timelines_and_undo_removes_it(rep):
    team = factories.team_of(rep)
    contact = factories.make_contact(team)
    deal = factories.make_deal(team, contacts=[contact])
    task = services.create_task(
        team.id, rep.id, title="Send proposal", contact_id=contact.id, deal_id=deal.id
    )
    services.complete_task(task, rep.id)
    activity = db.session.get(Activity, task.done_activity_id)
    assert activity.kind == ActivityKind.TASK_DONE
    assert activity.subject == "Send proposal"
    assert activity.deal_id == deal.id
    assert [link.contact_id for link in activity.links] == [contact.id]
    with pytest.raises(Conflict):
        services.complete_task(task, rep.id)

    services.reopen_task(task)
    assert task.done_at is None
    assert db.session.scalars(select(Activity)).all() == []


def test_open_tasks_for_a_record(rep):
    team = factories.team_of(rep)
    contact = factories.make_contact(team)
    later = services.create_task(
        team.id, rep.id, title="Later", contact_id=contact.id, due_at=date(2026, 5, 1)
    )
    undated = services.create_task(team.id, rep.id, title="Someday", contact_id=contact.id)
    sooner = services.create_task(
        team.id, rep.id, title="Sooner", contact_id=contact.id, due_at=date(2026, 4, 1)
    )
    done = services.create_task(team.id, rep.id, title="Done", contact_id=contact.id)
    services.complete_task(done, rep.id)
    services.create_task(team.id, rep.id, title="Unlinked")
    got = services.open_tasks_for(team.id, contact_id=contact.id)
    assert [t.id for t in got] == [sooner.id, later.id, undated.id]
    assert services.open_tasks_for(team.id) == []


@pytest.mark.parametrize(
    ("rule", "due", "expected"),
    [
        ("daily", date(2026, 3, 10), date(2026, 3, 11)),
        ("weekdays", date(2026, 3, 13), date(2026, 3, 16)),  # Friday → Monday
        ("weekly", date(2026, 3, 10), date(2026, 3, 17)),
        ("monthly", date(2026, 1, 31), date(2026, 2, 28)),
        ("every:3", date(2026, 3, 10), date(2026, 3, 13)),
    ],
)
def test_recurring_task_creates_its_next_occurrence(rep, rule, due, expected):
    team = factories.team_of(rep)
    task = services.create_task(
        team.id, rep.id, title="Check in", due_at=due, recurrence=rule, remind_before=60
    )
    completed_at = datetime.combine(due, datetime.min.time(), tzinfo=NY) + timedelta(hours=10)
    services.complete_task(task, rep.id, now=completed_at)
    following = db.session.get(Task, task.next_occurrence_id)
    assert following.done_at is None
    assert following.due_at.astimezone(NY).date() == expected
    assert following.recurrence == rule
    assert services.remind_before_minutes(following) == 60
    # Undo removes the occurrence it made.
    services.reopen_task(task)
    assert db.session.get(Task, following.id) is None


def test_timed_recurrence_keeps_wall_clock_time_across_dst(rep):
    team = factories.team_of(rep)
    due = datetime(2026, 3, 7, 9, 0, tzinfo=NY)  # the US clocks change on 8 March
    task = services.create_task(
        team.id, rep.id, title="Standup", due_at=due, all_day=False, recurrence="daily"
    )
    services.complete_task(task, rep.id, now=due)
    following = db.session.get(Task, task.next_occurrence_id)
    assert following.due_at.astimezone(NY) == datetime(2026, 3, 8, 9, 0, tzinfo=NY)


def test_late_completion_skips_to_a_current_occurrence():
    now = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
    due = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    nxt = recurrence.next_due(due, True, "weekly", now, ZoneInfo("UTC"))
    assert nxt == datetime(2026, 3, 22, tzinfo=UTC)


def test_recurrence_rules_are_checked(rep):
    team = factories.team_of(rep)
    with pytest.raises(Invalid):
        services.create_task(team.id, rep.id, title="x", due_at=date(2026, 1, 1), recurrence="x")
    with pytest.raises(Invalid):
        services.create_task(team.id, rep.id, title="x", recurrence="daily")  # no due date


def test_calendar_token_regenerates(rep):
    first = services.calendar_token(rep)
    assert services.calendar_token(rep) == first
    second = services.regenerate_calendar_token(rep)
    assert second != first and len(second) >= 20
