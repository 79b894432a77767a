"""Reminders and the daily digest, driven by moving a clock (no sleeping), exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crm import outbox
from crm.extensions import db
from crm.models import OutboundEmail, OutboxStatus, Task
from crm.tasks import reminders, services
from tests import factories

BERLIN = ZoneInfo("Europe/Berlin")


def outbox_rows(kind: str | None = None) -> list[OutboundEmail]:
    stmt = select(OutboundEmail).order_by(OutboundEmail.id)
    if kind:
        stmt = stmt.where(OutboundEmail.kind == kind)
    return list(db.session.scalars(stmt))


@pytest.fixture
def rep(app):
    user = factories.make_user(name="Rita Rep", email="rita@example.com")
    user.timezone = "Europe/Berlin"
    db.session.commit()
    return user


@pytest.fixture
def due_task(rep):
    team = factories.team_of(rep)
    contact = factories.make_contact(team, first_name="Ada", last_name="Lovelace")
    return services.create_task(
        team.id,
        rep.id,
        title="Call Ada about the renewal",
        due_at=datetime(2026, 6, 1, 14, 0, tzinfo=BERLIN),
        all_day=False,
        remind_before=15,
        contact_id=contact.id,
    )


def test_reminder_is_sent_when_its_time_comes_and_only_once(due_task, run_jobs):
    remind_at = datetime(2026, 6, 1, 13, 45, tzinfo=BERLIN)
    assert reminders.send_due_reminders(now=remind_at - timedelta(minutes=1)) == 0
    assert outbox_rows() == []

    assert reminders.send_due_reminders(now=remind_at) == 1
    [row] = outbox_rows()
    assert row.to_addr == "rita@example.com"
    assert row.kind == "task_reminder"
    assert "Call Ada about the renewal" in row.subject
    assert "Mon 01 Jun 2026, 14:00 CEST" in row.body_text  # in the assignee's zone
    assert "Ada Lovelace" in row.body_text
    run_jobs()
    db.session.refresh(row)
    assert row.status == OutboxStatus.KEPT  # no MAIL_SERVER in tests: kept in the outbox

    for minutes in (1, 5, 60):  # later sweeps send nothing more
        assert reminders.send_due_reminders(now=remind_at + timedelta(minutes=minutes)) == 0
    assert len(outbox_rows()) == 1


def test_done_tasks_are_not_reminded(due_task, rep):
    services.complete_task(due_task, rep.id)
    assert reminders.send_due_reminders(now=datetime(2026, 6, 2, tzinfo=UTC)) == 0
    assert outbox_rows() == []


def test_a_former_member_gets_no_reminder(due_task, rep):
    from crm.models import Membership

    db.session.execute(Membership.__table__.delete().where(Membership.user_id == rep.id))
    db.session.commit()
    assert reminders.send_due_reminders(now=datetime(2026, 6, 2, tzinfo=UTC)) == 0


def test_moving_the_due_time_rearms_the_reminder(due_task, rep):
    reminders.send_due_reminders(now=datetime(2026, 6, 1, 13, 45, tzinfo=BERLIN))
    services.update_task(
        due_task,
        title=due_task.title,
        due_at=datetime(2026, 6, 2, 14, 0, tzinfo=BERLIN),
        all_day=False,
        assignee_id=rep.id,
        remind_before=15,
    )
    assert due_task.reminder_sent_at is None
    assert reminders.send_due_reminders(now=datetime(2026, 6, 2, 13, 45, tzinfo=BERLIN)) == 1
    assert len(outbox_rows()) == 2


def test_a_crash_before_the_commit_loses_nothing_and_sends_once(due_task, monkeypatch):
    """The claim and the outbox row share a transaction: a crash in between undoes both."""
    now = datetime(2026, 6, 1, 13, 50, tzinfo=BERLIN)
    real = outbox.queue_email

    def crash(**kwargs):
        raise RuntimeError("worker killed while writing the outbox row")

    monkeypatch.setattr(outbox, "queue_email", crash)
    assert reminders.send_due_reminders(now=now) == 0
    db.session.expire_all()
    assert db.session.get(Task, due_task.id).reminder_sent_at is None  # rolled back
    assert outbox_rows() == []

    monkeypatch.setattr(outbox, "queue_email", real)  # restarted worker
    assert reminders.send_due_reminders(now=now + timedelta(minutes=1)) == 1
    assert reminders.send_due_reminders(now=now + timedelta(minutes=2)) == 0
    assert len(outbox_rows()) == 1


def test_a_crash_after_commit_before_enqueue_is_picked_up_by_the_outbox_sweep(
    due_task, monkeypatch, run_jobs
):
    now = datetime(2026, 6, 1, 13, 50, tzinfo=BERLIN)
    monkeypatch.setattr(outbox, "enqueue", lambda row: None)  # Redis lost the job
    assert reminders.send_due_reminders(now=now) == 1
    monkeypatch.undo()
    from crm.queue import queue

    assert len(queue("default")) == 0  # no send job: only the search index job is queued
    run_jobs()
    assert reminders.send_due_reminders(now=now + timedelta(minutes=1)) == 0  # no second row
    assert outbox.sweep() == 1  # the outbox sweep re-enqueues the pending row
    run_jobs()
    [row] = outbox_rows()
    assert row.status == OutboxStatus.KEPT


def test_crash_between_smtp_send_and_marking_sent_never_sends_twice(
    app, due_task, monkeypatch, run_jobs
):
    """The outbox job dies after SMTP accepted the mail: re-runs and sweeps send nothing more."""
    app.config["MAIL_SERVER"] = "smtp.invalid"
    sent = []

    def send_then_crash(message, config):
        sent.append(message["Message-ID"])
        raise SystemExit("worker killed after SMTP accepted the message")

    monkeypatch.setattr(outbox, "_smtp_send", send_then_crash)
    now = datetime(2026, 6, 1, 13, 50, tzinfo=BERLIN)
    assert reminders.send_due_reminders(now=now) == 1
    run_jobs()
    assert len(sent) == 1
    [row] = outbox_rows()
    db.session.refresh(row)
    assert row.status == OutboxStatus.SENDING  # never marked sent

    # The worker restarts: the sweeps run again and the job is enqueued again.
    db.session.rollback()
    assert reminders.send_due_reminders(now=now + timedelta(minutes=1)) == 0
    outbox.sweep()
    outbox.enqueue(row)
    run_jobs()
    assert len(sent) == 1
    assert len(outbox_rows()) == 1


def test_two_workers_sweeping_at_once_send_one_reminder(app, due_task):
    now = datetime(2026, 6, 1, 13, 50, tzinfo=BERLIN)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def worker():
        try:
            with app.app_context():
                barrier.wait()
                results.append(reminders.send_due_reminders(now=now))
                db.session.remove()
        except Exception as error:  # pragma: no cover - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results) == [0, 0, 0, 1]
    assert db.session.scalar(select(func.count(OutboundEmail.id))) == 1


# --- The daily digest ----------------------------------------------------------------------


@pytest.fixture
def digest_tasks(rep):
    team = factories.team_of(rep)
    services.create_task(team.id, rep.id, title="Overdue thing", due_at=date(2026, 6, 1))
    services.create_task(team.id, rep.id, title="Today thing", due_at=date(2026, 6, 3))
    services.create_task(
        team.id,
        rep.id,
        title="Meeting today",
        due_at=datetime(2026, 6, 3, 15, 0, tzinfo=BERLIN),
        all_day=False,
    )
    services.create_task(team.id, rep.id, title="Tomorrow thing", due_at=date(2026, 6, 4))
    services.create_task(team.id, rep.id, title="No date thing")
    done = services.create_task(team.id, rep.id, title="Done thing", due_at=date(2026, 6, 2))
    services.complete_task(done, rep.id)
    return team


def test_digest_goes_out_at_eight_local_once_a_day(rep, digest_tasks):
    # 07:59 in Berlin (05:59 UTC in summer): not yet.
    assert reminders.send_daily_digests(now=datetime(2026, 6, 3, 7, 59, tzinfo=BERLIN)) == 0
    assert reminders.send_daily_digests(now=datetime(2026, 6, 3, 8, 0, tzinfo=BERLIN)) == 1
    [row] = outbox_rows("task_digest")
    assert row.to_addr == rep.email
    assert row.team_id is None  # it may list several teams' tasks: no team's admins see it
    assert "1 today" not in row.subject and "2 today, 1 overdue" in row.subject
    body = row.body_text
    assert "Overdue thing" in body and "Today thing" in body and "Meeting today" in body
    assert "Tomorrow thing" not in body and "No date thing" not in body
    assert "Done thing" not in body
    # The rest of the day: nothing more.
    for hour in (8, 9, 11):
        now = datetime(2026, 6, 3, hour, 30, tzinfo=BERLIN)
        assert reminders.send_daily_digests(now=now) == 0
    # The next local day at 08:00: the next digest.
    assert reminders.send_daily_digests(now=datetime(2026, 6, 4, 8, 1, tzinfo=BERLIN)) == 1
    assert len(outbox_rows("task_digest")) == 2


def test_digest_follows_each_users_time_zone(rep, digest_tasks):
    team = digest_tasks
    tokyo = factories.make_member(team, name="Taro", email="taro@example.com")
    tokyo.timezone = "Asia/Tokyo"
    db.session.commit()
    services.create_task(team.id, tokyo.id, title="Taro's task", due_at=date(2026, 6, 3))
    # 08:00 in Tokyo is 01:00 in Berlin: only Taro's digest.
    now = datetime(2026, 6, 3, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert reminders.send_daily_digests(now=now) == 1
    [row] = outbox_rows("task_digest")
    assert row.to_addr == "taro@example.com"


def test_digest_opt_out_and_empty_days(rep, digest_tasks):
    services.set_digest_opt_out(rep, True)
    assert reminders.send_daily_digests(now=datetime(2026, 6, 3, 8, 0, tzinfo=BERLIN)) == 0
    services.set_digest_opt_out(rep, False)
    # A user with nothing due gets no email (but is marked for the day).
    idle = factories.make_member(digest_tasks, email="idle@example.com")
    idle.timezone = "Europe/Berlin"
    db.session.commit()
    assert reminders.send_daily_digests(now=datetime(2026, 6, 3, 8, 0, tzinfo=BERLIN)) == 1
    assert [r.to_addr for r in outbox_rows("task_digest")] == [rep.email]


def test_two_workers_send_one_digest(app, rep, digest_tasks):
    now = datetime(2026, 6, 3, 8, 0, tzinfo=BERLIN)
    barrier = threading.Barrier(3)
    results = []

    def worker():
        with app.app_context():
            barrier.wait()
            results.append(reminders.send_daily_digests(now=now))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 0, 1]
    assert len(outbox_rows("task_digest")) == 1


def test_sweeps_are_declared(app):
    from crm.kernel import features

    assert reminders.send_due_reminders in features.sweeps(app)
    assert reminders.send_daily_digests in features.sweeps(app)
