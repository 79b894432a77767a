"""The outbox: kept without a mail server, sent over real SMTP, retried with backoff, swept
after a lost queue, and never sent twice."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from crm import outbox
from crm.extensions import db
from crm.models import OutboundEmail, OutboxStatus, utcnow
from crm.sweeps import run_sweeps


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_USE_TLS=False)
    yield inbox
    controller.stop()


def _queue(to="dana@example.com", subject="Hello") -> OutboundEmail:
    row = outbox.queue_email(
        to=to,
        subject=subject,
        template="invitation",
        kind="test",
        inviter=type("U", (), {"name": "Olive"}),
        team=type("T", (), {"name": "Acme"}),
        link="http://x/y",
        days=7,
    )
    db.session.commit()
    return row


def test_without_a_mail_server_mail_is_kept_for_admins(run_jobs):
    row = _queue()
    outbox.enqueue(row)
    assert run_jobs() == 1
    db.session.refresh(row)
    assert row.status == OutboxStatus.KEPT


def test_sent_over_smtp_with_a_stable_message_id(smtp_server, run_jobs):
    row = _queue()
    outbox.enqueue(row)
    run_jobs()
    db.session.refresh(row)
    assert row.status == OutboxStatus.SENT and row.sent_at is not None
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message.rcpt_tos == ["dana@example.com"]
    assert f"Message-ID: {row.message_id}".encode() in message.original_content


def test_enqueued_twice_is_sent_once(smtp_server, run_jobs):
    row = _queue()
    outbox.enqueue(row)
    outbox.enqueue(row)  # e.g. a sweep re-enqueued it while the first job waited
    from crm.queue import enqueue

    enqueue("jobs.email.send_email", row.id)
    run_jobs()
    assert len(smtp_server.messages) == 1


def test_a_lost_queue_loses_no_email(app, smtp_server, run_jobs):
    row = _queue()
    outbox.enqueue(row)
    app.extensions["rq_connection"].flushall()  # Redis lost everything
    assert run_jobs() == 0
    assert run_sweeps()["crm.outbox.sweep"] == 1
    run_jobs()
    assert len(smtp_server.messages) == 1
    assert run_sweeps()["crm.outbox.sweep"] == 0  # nothing left to send


def test_failure_is_retried_with_backoff_then_gives_up(app, run_jobs):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_USE_TLS=False)
    row = _queue()
    assert outbox.deliver(row.id) == OutboxStatus.PENDING
    db.session.refresh(row)
    assert row.attempts == 1 and "Connection" in row.last_error
    first_retry = row.next_attempt_at
    assert first_retry > utcnow()
    assert outbox.deliver(row.id) is None  # not due yet: nothing happens
    for _ in range(outbox.MAX_ATTEMPTS - 1):
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        outbox.deliver(row.id)
        db.session.refresh(row)
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == outbox.MAX_ATTEMPTS


@pytest.mark.parametrize(
    "to, subject",
    [
        ("dana@example.com", "Hello\r\nBcc: victim@example.com"),
        ("dana@example.com", "Line one\nline two"),
        ("dana@example.com\nBcc: victim@example.com", "Hello"),
    ],
)
def test_a_message_that_cannot_be_built_fails_with_its_reason(smtp_server, run_jobs, to, subject):
    row = _queue(to=to, subject=subject)
    outbox.enqueue(row)
    run_jobs()
    db.session.refresh(row)
    assert row.status == OutboxStatus.FAILED
    assert row.last_error.startswith("Cannot build the message:")
    assert smtp_server.messages == []
    # Nothing left for the sweep to retry, now or after a claim would have gone stale.
    assert run_sweeps()["crm.outbox.sweep"] == 0
    row.claimed_at = utcnow() - outbox.STALE_CLAIM - timedelta(minutes=1)
    db.session.commit()
    assert run_sweeps()["crm.outbox.sweep"] == 0


def test_without_a_mail_server_an_unbuildable_message_fails_too(run_jobs):
    row = _queue(subject="Hello\nWorld")
    outbox.enqueue(row)
    run_jobs()
    db.session.refresh(row)
    assert row.status == OutboxStatus.FAILED and "linefeed" in row.last_error


def test_a_worker_that_died_mid_send_is_reclaimed_by_the_sweep(smtp_server, run_jobs):
    row = _queue()
    row.status = OutboxStatus.SENDING
    row.claimed_at = utcnow() - outbox.STALE_CLAIM - timedelta(minutes=1)
    db.session.commit()
    run_sweeps()
    run_jobs()
    db.session.refresh(row)
    assert row.status == OutboxStatus.SENT


def test_outbox_page_lists_the_team_mail(logged_in, owner, run_jobs):
    sent = logged_in.post(
        "/settings/members/invite", data={"email": "new@example.com", "role": "member"}
    )
    assert sent.status_code == 200, sent.text
    run_jobs()
    row = db.session.scalars(select(OutboundEmail)).one()
    assert row.status == OutboxStatus.KEPT, (row.status, row.last_error)
    page = logged_in.get("/settings/outbox")
    assert "new@example.com" in page.text and "status-kept" in page.text
    detail = logged_in.get(f"/settings/outbox/{row.id}")
    assert "/invite/" in detail.text
