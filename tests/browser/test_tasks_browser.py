"""Quick-add, one-tap complete and undo in a real browser, at desktop and 390×844."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import Activity, Task
from tests import factories
from tests.conftest import assert_no_sideways_scroll, log_in


def _login(page, email: str) -> None:
    log_in(page, email)


def _tap(page, locator) -> None:
    if page.is_phone:
        locator.tap()
    else:
        locator.click()


def test_quick_add_complete_and_undo(page, app):
    # Undo stays long enough to be tapped however slow the machine (restored after the test).
    app.config["TASK_UNDO_SECONDS"] = 60
    user = factories.make_user(email="rep@example.com")
    team = factories.team_of(user)
    contact = factories.make_contact(team, first_name="Ada", last_name="Lovelace")
    _login(page, user.email)

    page.goto("/tasks")
    expect(page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    assert_no_sideways_scroll(page)

    # Quick-add from the app shell.
    _tap(page, page.get_by_role("link", name="Add a task"))
    dialog = page.locator("#quick-add")
    expect(dialog.get_by_label("Task", exact=True)).to_be_visible()
    dialog.get_by_label("Task", exact=True).fill("Call the customer back")
    dialog.get_by_label("Due date").fill("2020-01-06")  # overdue, so it shows under Overdue
    _tap(page, dialog.get_by_role("button", name="Add task"))
    expect(dialog.get_by_role("status")).to_contain_text("Added “Call the customer back”")
    assert_no_sideways_scroll(page)

    # The list refreshes itself on the task-created event.
    overdue = page.locator("#group-overdue")
    expect(overdue.get_by_text("Call the customer back")).to_be_visible()
    _tap(page, dialog.get_by_role("button", name="Close"))
    expect(page.locator("#quick-add")).to_have_count(0)

    # Link it to a contact so completing writes on a timeline.
    task = db.session.scalars(select(Task)).one()
    task.contact_id = contact.id
    db.session.commit()
    page.reload()

    complete = page.get_by_role("button", name="Complete Call the customer back")
    box = complete.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44, "the tap target is too small"
    _tap(page, complete)
    row = page.locator(f"#task-{task.id}")
    expect(row.get_by_text("Done", exact=True)).to_be_visible()
    db.session.expire_all()
    assert db.session.get(Task, task.id).done_at is not None
    assert len(db.session.scalars(select(Activity)).all()) == 1

    _tap(page, row.get_by_role("button", name="Undo"))
    expect(page.get_by_role("button", name="Complete Call the customer back")).to_be_visible()
    db.session.expire_all()
    assert db.session.get(Task, task.id).done_at is None
    assert db.session.scalars(select(Activity)).all() == []
    assert_no_sideways_scroll(page)

    # Completed and left alone: after the undo window the row leaves the list. A short
    # window here, so the test waits for the row to go rather than for six seconds.
    app.config["TASK_UNDO_SECONDS"] = 0.5
    _tap(page, page.get_by_role("button", name="Complete Call the customer back"))
    expect(page.locator(f"#task-{task.id}")).to_have_count(0)
    db.session.expire_all()
    assert db.session.get(Task, task.id).done_at is not None


def test_edit_and_preferences_fit_a_phone(page):
    from datetime import date

    from crm.tasks import services

    user = factories.make_user(email="rep2@example.com")
    team = factories.team_of(user)
    task = services.create_task(team.id, user.id, title="Renew", due_at=date(2030, 1, 2))
    _login(page, user.email)

    page.goto(f"/tasks/{task.id}/edit")
    every = page.get_by_label("Every how many days")
    expect(every).to_be_hidden()
    page.get_by_label("Repeat").select_option("every")
    expect(every).to_be_visible()
    every.fill("3")
    assert_no_sideways_scroll(page)
    _tap(page, page.get_by_role("button", name="Save task"))
    expect(page).to_have_url(re.compile(r"/tasks$"))
    db.session.expire_all()
    assert db.session.get(Task, task.id).recurrence == "every:3"

    page.goto("/tasks/preferences")
    feed = page.get_by_label("Your calendar feed address")
    old_url = feed.input_value()
    assert "/calendar/" in old_url and old_url.endswith(".ics")
    assert_no_sideways_scroll(page)
    _tap(page, page.get_by_role("button", name="Make a new address"))
    expect(page.get_by_label("Your calendar feed address")).not_to_have_value(old_url)
    assert page.request.get(old_url).status == 404
