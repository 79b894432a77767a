"""Reminders through a REAL RQ worker on a REAL redis-server, delivered over SMTP once.

redis-server is optional on a laptop (the tests skip) and required in CI (they fail).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from crm.extensions import db
from crm.models import OutboundEmail, OutboxStatus
from crm.queue import make_worker
from crm.tasks import reminders, services
from tests import factories
from tests.servers import free_port, redis_url, second_app  # noqa: F401  (fixtures)


@pytest.fixture
def smtp_sink():
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, received
    controller.stop()


@pytest.fixture
def scaled_app(app, redis_url, smtp_sink):  # noqa: F811
    """A second app as the scaled worker sees it: the same database, a real Redis, SMTP."""
    controller, _ = smtp_sink
    with second_app(
        app,
        SECRET_KEY="test-secret",
        BASE_URL="http://localhost",
        REDIS_URL=redis_url,
        MAIL_SERVER=controller.hostname,
        MAIL_PORT=controller.port,
        MAIL_USE_TLS=False,
        MAIL_USERNAME=None,
        MAIL_FROM="Rapport <rapport@example.com>",
    ) as worker_app:
        yield worker_app


def test_reminder_goes_through_a_real_worker_and_is_sent_once(scaled_app, smtp_sink):
    _, received = smtp_sink
    rep = factories.make_user(email="rep@example.com")
    due = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    task = services.create_task(
        factories.team_of(rep).id,
        rep.id,
        title="Ring the client",
        due_at=due,
        all_day=False,
        remind_before=0,
    )
    with scaled_app.app_context():
        assert reminders.send_due_reminders(now=due) == 1
        assert reminders.send_due_reminders(now=due + timedelta(minutes=1)) == 0
        queue = Queue("default", connection=scaled_app.extensions["rq_connection"])
        assert queue.job_ids == [f"send-email-{db.session.scalars(select(OutboundEmail.id)).one()}"]
        assert make_worker(scaled_app).work(burst=True) is True
        row = db.session.scalars(select(OutboundEmail)).one()
        assert row.status == OutboxStatus.SENT
        # A duplicate job (a restart re-enqueueing) does not send again.
        queue.enqueue("jobs.email.send_email", row.id)
        make_worker(scaled_app).work(burst=True)
        db.session.remove()
    assert len(received) == 1
    assert received[0].rcpt_tos == ["rep@example.com"]
    assert b"Ring the client" in received[0].content
    db.session.refresh(task)
    assert task.reminder_sent_at == due


def test_without_a_mail_server_the_row_is_kept(scaled_app, smtp_sink):
    _, received = smtp_sink
    scaled_app.config["MAIL_SERVER"] = None
    rep = factories.make_user()
    due = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    services.create_task(
        factories.team_of(rep).id,
        rep.id,
        title="Kept",
        due_at=due,
        all_day=False,
        remind_before=0,
    )
    with scaled_app.app_context():
        reminders.send_due_reminders(now=due)
        make_worker(scaled_app).work(burst=True)
        assert db.session.scalars(select(OutboundEmail)).one().status == OutboxStatus.KEPT
        db.session.remove()
    assert received == []


def test_the_minute_tick_is_one_chain_in_rqs_scheduler(scaled_app, smtp_sink):
    from jobs.reminders import schedule_next_tick

    _, received = smtp_sink
    rep = factories.make_user()
    services.set_digest_opt_out(rep, True)  # the wall clock must not decide what is sent
    services.create_task(
        factories.team_of(rep).id,
        rep.id,
        title="Due already",
        due_at=datetime(2020, 1, 1, tzinfo=UTC),
        all_day=False,
        remind_before=0,
    )
    with scaled_app.app_context():
        conn = scaled_app.extensions["rq_connection"]
        registry = ScheduledJobRegistry("default", connection=conn)
        now = datetime(2030, 1, 1, 9, 30, 15, tzinfo=UTC)
        # Two workers starting in the same minute seed the same job: one tick, not two.
        first, second = schedule_next_tick(now), schedule_next_tick(now)
        assert first == second == "crm-sweeps-203001010931"
        assert registry.get_job_ids() == [first]
        # The tick job itself (run now, as RQ's scheduler would at its minute) runs the sweeps
        # and schedules the next minute.
        Queue("default", connection=conn).enqueue("jobs.reminders.tick", job_id="tick-now")
        make_worker(scaled_app).work(burst=True)
        assert len(registry.get_job_ids()) == 2
        db.session.remove()
    assert len(received) == 1  # the due reminder went out through the tick
    assert b"Reminder: Due already" in received[0].content


def test_the_worker_command_sweeps_at_start_and_delivers(scaled_app, smtp_sink):
    _, received = smtp_sink
    rep = factories.make_user(email="cli@example.com")
    services.set_digest_opt_out(rep, True)
    services.create_task(
        factories.team_of(rep).id,
        rep.id,
        title="Due while the worker was down",
        due_at=datetime(2020, 1, 1, tzinfo=UTC),
        all_day=False,
        remind_before=0,
    )
    # The test app's context is pushed; the command must see the worker's app.
    with scaled_app.app_context():
        result = scaled_app.test_cli_runner().invoke(args=["crm", "worker", "--burst"])
        db.session.remove()
    assert result.exit_code == 0, result.output
    assert len(received) == 1
    assert received[0].rcpt_tos == ["cli@example.com"]
