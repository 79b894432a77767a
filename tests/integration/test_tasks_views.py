"""The /tasks pages: groups, filters, quick-add, complete and undo, edit, record partial, feed."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from crm.extensions import db
from crm.models import Activity, Task, utcnow
from crm.tasks import services
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def _local_today(user):
    from crm.kernel import dates

    return utcnow().astimezone(dates.zone(user.timezone)).date()


def test_my_tasks_are_grouped(logged_in, owner, team):
    today = _local_today(owner)
    services.create_task(team.id, owner.id, title="Late one", due_at=today - timedelta(days=2))
    services.create_task(team.id, owner.id, title="Today one", due_at=today)
    services.create_task(team.id, owner.id, title="Next week", due_at=today + timedelta(days=7))
    services.create_task(team.id, owner.id, title="Whenever")
    colleague = factories.make_member(team, name="Col League")
    services.create_task(team.id, colleague.id, title="Not mine", assignee_id=colleague.id)

    html = logged_in.get("/tasks").get_data(as_text=True)
    assert "<html" in html
    positions = [html.index(s) for s in ("Overdue", "Late one", "Today", "Today one")]
    positions += [html.index(s) for s in ("Upcoming", "Next week", "No date", "Whenever")]
    assert positions == sorted(positions)
    assert "Not mine" not in html

    team_html = logged_in.get("/tasks?view=team").get_data(as_text=True)
    assert "Not mine" in team_html and "Col League" in team_html
    only = logged_in.get(f"/tasks?view=team&assignee={colleague.id}").get_data(as_text=True)
    assert "Not mine" in only and "Whenever" not in only


def test_list_partial_and_filters(logged_in, owner, team, htmx_headers):
    contact = factories.make_contact(team, first_name="Ada", last_name="Byron")
    services.create_task(team.id, owner.id, title="Ring Ada", contact_id=contact.id)
    done = services.create_task(team.id, owner.id, title="Finished")
    services.complete_task(done, owner.id)
    response = logged_in.get("/tasks", headers=htmx_headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="task-list"' in html and "Ring Ada" in html and "Finished" not in html
    assert "HX-Request" in response.headers.get("Vary", "")

    linked = logged_in.get(f"/tasks?contact={contact.id}").get_data(as_text=True)
    assert "Ring Ada" in linked and "Ada Byron" in linked
    by_kind = logged_in.get("/tasks?linked=contact").get_data(as_text=True)
    assert "Ring Ada" in by_kind
    assert "Ring Ada" not in logged_in.get("/tasks?linked=none").get_data(as_text=True)
    done_html = logged_in.get("/tasks?done=1").get_data(as_text=True)
    assert "Finished" in done_html and "Ring Ada" not in done_html
    # Another team's record in the filter is a 404.
    other = factories.make_contact(factories.team_of(factories.make_user()))
    assert logged_in.get(f"/tasks?contact={other.id}").status_code == 404


def test_load_more_pages_with_a_keyset_cursor(logged_in, owner, team, htmx_headers, monkeypatch):
    from crm.tasks import queries

    monkeypatch.setattr(queries, "PAGE", 2)
    for n in range(5):
        services.create_task(team.id, owner.id, title=f"Undated {n}")
    html = logged_in.get("/tasks").get_data(as_text=True)
    assert "Undated 1" in html and "Undated 2" not in html
    assert 'hx-trigger="revealed"' in html
    seen = []
    url = "/tasks?group=nodate&after=|0"
    for _ in range(4):
        part = logged_in.get(url, headers=htmx_headers).get_data(as_text=True)
        seen += [n for n in range(5) if f"Undated {n}<" in part]
        if "group=nodate&amp;after=" not in part:
            break
        url = part.split('hx-get="')[-1].split('"')[0].replace("&amp;", "&")
    assert seen == [0, 1, 2, 3, 4]


def test_quick_add_in_the_shell(logged_in, owner, team, htmx_headers):
    page = logged_in.get("/").get_data(as_text=True)
    assert 'aria-label="Add a task"' in page and 'id="quick-add-slot"' in page

    form = logged_in.get("/tasks/new", headers=htmx_headers)
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "<html" not in html and 'id="quick-add"' in html
    assert '<label for="title">Task</label>' in html

    tomorrow = _local_today(owner) + timedelta(days=1)
    response = logged_in.post(
        "/tasks/new",
        data={
            "title": "Send the quote",
            "due_date": tomorrow.isoformat(),
            "due_time": "10:30",
            "assignee_id": owner.id,
            "remind": "15",
            "priority": "high",
        },
        headers=htmx_headers,
    )
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"])["task-created"]["title"] == "Send the quote"
    assert "Added “Send the quote”" in response.get_data(as_text=True)
    task = db.session.scalars(select(Task)).one()
    assert task.all_day is False and task.priority.value == "high"
    assert task.remind_at == task.due_at - timedelta(minutes=15)


def test_quick_add_validation_is_422_with_field_errors(logged_in, owner, htmx_headers):
    response = logged_in.post(
        "/tasks/new",
        data={"title": "", "due_time": "10:00", "assignee_id": owner.id},
        headers=htmx_headers,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html
    assert 'id="title-error"' in html and 'id="due_time-error"' in html
    assert db.session.scalars(select(Task)).all() == []


def test_quick_add_without_javascript_redirects(logged_in, owner):
    response = logged_in.post("/tasks/new", data={"title": "Plain", "assignee_id": owner.id})
    assert response.status_code == 303 and response.headers["Location"].endswith("/tasks")


def test_complete_and_undo(logged_in, owner, team, htmx_headers):
    contact = factories.make_contact(team)
    task = services.create_task(
        team.id,
        owner.id,
        title="Follow up",
        contact_id=contact.id,
        due_at=date(2026, 1, 5),
        recurrence="weekly",
    )
    response = logged_in.post(f"/tasks/{task.id}/complete", headers=htmx_headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert f'id="task-{task.id}"' in html and "Undo" in html
    assert 'hx-trigger="load delay:6s"' in html
    assert json.loads(response.headers["HX-Trigger"]) == {
        "task-completed": {"id": task.id, "title": "Follow up"}
    }
    db.session.expire_all()
    assert db.session.get(Task, task.id).done_at is not None
    assert len(db.session.scalars(select(Activity)).all()) == 1
    assert len(db.session.scalars(select(Task)).all()) == 2  # the next occurrence

    # After the undo window the row leaves the list...
    settled = logged_in.get(f"/tasks/{task.id}/row?settle=1", headers=htmx_headers)
    assert settled.get_data(as_text=True) == ""

    undo = logged_in.post(f"/tasks/{task.id}/reopen", headers=htmx_headers)
    assert undo.status_code == 200
    assert "task-reopened" in json.loads(undo.headers["HX-Trigger"])
    assert "Complete Follow up" in undo.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Task, task.id).done_at is None
    assert db.session.scalars(select(Activity)).all() == []
    assert len(db.session.scalars(select(Task)).all()) == 1


def test_edit_and_delete(logged_in, owner, team):
    task = services.create_task(team.id, owner.id, title="Old title", due_at=date(2026, 2, 2))
    page = logged_in.get(f"/tasks/{task.id}/edit").get_data(as_text=True)
    assert 'value="Old title"' in page and 'value="2026-02-02"' in page
    response = logged_in.post(
        f"/tasks/{task.id}/edit",
        data={"title": "New title", "due_date": "2026-02-03", "assignee_id": owner.id},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Task, task.id).title == "New title"
    assert logged_in.post(f"/tasks/{task.id}/delete").status_code == 303
    assert db.session.get(Task, task.id) is None


def test_record_partial_adds_a_prelinked_task(app, logged_in, owner, team, htmx_headers):
    from flask import render_template

    deal = factories.make_deal(team, title="Big deal")
    services.create_task(team.id, owner.id, title="Existing", deal_id=deal.id)
    response = logged_in.post(
        "/tasks/new",
        data={"title": "Prepare contract", "deal_id": deal.id, "assignee_id": owner.id},
        headers={**htmx_headers, "HX-Target": "record-tasks"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="record-tasks"' in html
    assert "Existing" in html and "Prepare contract" in html
    assert "task-created" in json.loads(response.headers["HX-Trigger"])
    assert db.session.scalars(select(Task).where(Task.title == "Prepare contract")).one().deal_id

    bad = logged_in.post(
        "/tasks/new",
        data={"title": "", "deal_id": deal.id, "assignee_id": owner.id},
        headers={**htmx_headers, "HX-Target": "record-tasks"},
    )
    assert bad.status_code == 422 and 'id="record-task-title-error"' in bad.get_data(as_text=True)

    other_deal = factories.make_deal(factories.team_of(factories.make_user()))
    leak = logged_in.post(
        "/tasks/new",
        data={"title": "x", "deal_id": other_deal.id, "assignee_id": owner.id},
        headers={**htmx_headers, "HX-Target": "record-tasks"},
    )
    assert leak.status_code == 422
    # The include contract other pages use.
    with app.test_request_context():
        from flask_login import login_user

        login_user(owner)
        out = render_template(
            "tasks/_record_tasks.html",
            tasks=services.open_tasks_for(team.id, deal_id=deal.id),
            link_kind="deal",
            link_id=deal.id,
        )
    assert f'name="deal_id" value="{deal.id}"' in out and "Prepare contract" in out


def test_record_partial_by_url(logged_in, owner, team, htmx_headers):
    contact = factories.make_contact(team)
    services.create_task(team.id, owner.id, title="For Ada", contact_id=contact.id)
    response = logged_in.get(f"/tasks/linked?contact={contact.id}", headers=htmx_headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="record-tasks"' in html and "For Ada" in html
    assert f'name="contact_id" value="{contact.id}"' in html
    other = factories.make_contact(factories.team_of(factories.make_user()))
    assert logged_in.get(f"/tasks/linked?contact={other.id}").status_code == 404
    assert logged_in.get("/tasks/linked").status_code == 404


def test_prelinked_quick_add_from_a_record(logged_in, team):
    contact = factories.make_contact(team)
    html = logged_in.get(f"/tasks/new?contact={contact.id}").get_data(as_text=True)
    assert f'name="contact_id" type="hidden" value="{contact.id}"' in html
    assert f"Linked to contact <strong>{contact.name}</strong>" in html
    other = factories.make_contact(factories.team_of(factories.make_user()))
    assert logged_in.get(f"/tasks/new?contact={other.id}").status_code == 404


def test_preferences_digest_opt_out(logged_in, owner):
    page = logged_in.get("/tasks/preferences").get_data(as_text=True)
    assert "Daily digest" in page and "/calendar/" in page
    # A browser always sends the CSRF field, so the form data is never empty.
    logged_in.post("/tasks/preferences", data={"csrf_token": "x"})
    db.session.refresh(owner)
    assert owner.digest_opt_out is True
    logged_in.post("/tasks/preferences", data={"digest": "y"})
    db.session.refresh(owner)
    assert owner.digest_opt_out is False


def test_calendar_feed_and_regeneration(client, logged_in, owner, team):
    timed_due = datetime(2026, 7, 1, 9, 0).astimezone()
    services.create_task(team.id, owner.id, title="All day thing", due_at=date(2026, 7, 2))
    services.create_task(
        team.id, owner.id, title="Timed thing", due_at=timed_due, all_day=False, remind_before=15
    )
    services.create_task(team.id, owner.id, title="Undated thing")
    done = services.create_task(team.id, owner.id, title="Done thing", due_at=date(2026, 7, 3))
    services.complete_task(done, owner.id)
    other = factories.make_member(team)
    services.create_task(team.id, other.id, title="Someone else's", due_at=date(2026, 7, 3))

    token = services.calendar_token(owner)
    logged_in.post("/logout")
    response = client.get(f"/calendar/{token}.ics")  # no login needed: the secret is the key
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    cal = Calendar.from_ical(response.data)
    events = {str(e["summary"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {"All day thing", "Timed thing"}
    assert events["All day thing"].decoded("dtstart") == date(2026, 7, 2)
    assert events["Timed thing"].decoded("dtstart") == timed_due
    assert list(events["Timed thing"].walk("VALARM"))

    new_token = services.regenerate_calendar_token(owner)
    assert client.get(f"/calendar/{token}.ics").status_code == 404
    assert client.get(f"/calendar/{new_token}.ics").status_code == 200
    assert client.get("/calendar/short.ics").status_code == 404


def test_regenerate_through_the_page(logged_in, owner):
    first = services.calendar_token(owner)
    assert logged_in.post("/tasks/calendar/regenerate").status_code == 303
    db.session.refresh(owner)
    assert owner.calendar_token != first


def test_tasks_need_a_login(client):
    assert client.get("/tasks").status_code == 302
    assert client.get("/tasks/new").status_code == 302
