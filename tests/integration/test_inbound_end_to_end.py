"""Email-in end to end through the SMTP listener, and property tests: nothing crashes, ever."""

from __future__ import annotations

import smtplib
import socket
from pathlib import Path

import pytest
from flask import render_template
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from crm.extensions import db
from crm.inbound import processing, queries
from crm.inbound.smtp import start_listener
from crm.models import Activity, ActivityContact, InboundMessage, InboundStatus
from tests import factories
from tests.integration.test_inbound_processing import mail
from tests.servers import free_port

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
ENDED = {
    InboundStatus.PROCESSED,
    InboundStatus.REVIEW,
    InboundStatus.UNVERIFIED,
    InboundStatus.REJECTED,
    InboundStatus.FAILED,
}


@pytest.fixture
def listener(app):
    app.config["SMTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    controller = start_listener(app)
    yield controller
    controller.stop()


def test_bcc_through_smtp_lands_on_the_contacts_timeline(app, listener, logged_in, owner, run_jobs):
    team = factories.team_of(owner)
    jane = factories.make_contact(team, first_name="Jane", email="jane@northwind.example")
    raw = mail(frm=f"Olive <{owner.email}>", subject="Renewal terms", body="Ten seats, net 30.")
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        refused = smtp.sendmail(owner.email, [f"{owner.inbound_token}@in.rapport.test"], raw)
    assert refused == {}
    assert run_jobs() >= 1
    db.session.expire_all()

    activity = db.session.scalars(
        select(Activity)
        .join(ActivityContact, ActivityContact.activity_id == Activity.id)
        .where(ActivityContact.contact_id == jane.id)
    ).one()
    assert activity.subject == "Renewal terms" and activity.body == "Ten seats, net 30."
    if "contacts.show" in app.view_functions:  # the contacts feature, once merged
        page = logged_in.get(f"/contacts/{jane.id}")
        assert b"Renewal terms" in page.data and b"Ten seats, net 30." in page.data
    else:  # until then: the entry the timeline includes for emails
        with app.test_request_context():
            html = render_template(
                "inbound/_email_entry.html",
                activity=activity,
                email=queries.emails_for_activities([activity])[activity.id],
            )
        assert "Renewal terms" in html and "Ten seats, net 30." in html
        assert "jane@northwind.example" in html


def test_old_address_is_refused_at_rcpt_after_regenerating(listener, logged_in, owner):
    old = f"{owner.inbound_token}@in.rapport.test"
    logged_in.post("/settings/inbound-address")
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        smtp.ehlo()
        smtp.mail(owner.email)
        code, _ = smtp.rcpt(old)
    assert code == 550


# --- Properties ---------------------------------------------------------------------------------

CORPUS_RAW = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]


@st.composite
def hostile_mail(draw) -> bytes:
    """Arbitrary bytes, mail-shaped bytes with garbage, and corpus messages with bytes flipped."""
    kind = draw(st.sampled_from(["bytes", "headers", "mutated"]))
    if kind == "bytes":
        return draw(st.binary(max_size=3000))
    if kind == "headers":
        head = b"From: rep@acme-sales.com\r\nTo: x@y.example\r\nContent-Type: "
        return head + draw(st.binary(max_size=200)) + b"\r\n\r\n" + draw(st.binary(max_size=2000))
    raw = bytearray(draw(st.sampled_from(CORPUS_RAW)))
    for _ in range(draw(st.integers(1, 20))):
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=hostile_mail())
def test_processing_never_raises_on_any_bytes(app, raw):
    user = _rep()
    message = InboundMessage(
        team_id=user.last_team_id,
        user_id=user.id,
        via="smtp",
        envelope_to=f"{user.inbound_token}@in.rapport.test",
        raw=raw,
        size=len(raw),
    )
    db.session.add(message)
    db.session.commit()
    status = processing.process(message.id)
    assert status in ENDED
    if status == InboundStatus.FAILED:
        assert message.error


def _rep():
    from crm.models import User

    user = db.session.scalars(select(User).where(User.email == "rep@acme-sales.com")).first()
    return user or factories.make_user(email="rep@acme-sales.com")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.binary(max_size=4000), command=st.binary(min_size=1, max_size=300))
def test_the_listener_answers_any_bytes_and_keeps_serving(listener, owner, data, command):
    address = f"{owner.inbound_token}@in.rapport.test"
    with smtplib.SMTP(listener.hostname, listener.port, timeout=10) as smtp:
        try:
            smtp.sendmail(owner.email, [address], data)
        except smtplib.SMTPException:
            pass  # a refusal is an answer
    with socket.create_connection((listener.hostname, listener.port), timeout=10) as raw:
        raw.recv(1024)
        raw.sendall(command.replace(b"\n", b" ") + b"\r\n")
        assert raw.recv(1024)[:1] in b"2345"
    with smtplib.SMTP(listener.hostname, listener.port, timeout=10) as smtp:
        assert smtp.noop()[0] == 250


def test_concurrent_sessions_are_all_stored_before_their_250(listener, owner):
    """The listener's writer commits what arrives together in one transaction (a group):
    every message a session was told 250 about is in the database, each one once."""
    import threading

    rcpt = f"{owner.inbound_token}@in.rapport.test"
    raws = [mail(frm=f"Olive <{owner.email}>", subject=f"Mail {i}") for i in range(12)]
    refused: list = []

    def send(chunk):
        with smtplib.SMTP(listener.hostname, listener.port, timeout=30) as smtp:
            for raw in chunk:
                refused.append(smtp.sendmail(owner.email, [rcpt], raw))

    threads = [threading.Thread(target=send, args=(raws[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused == [{}] * 12
    db.session.expire_all()
    subjects = sorted(
        m.raw.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
        for m in db.session.scalars(select(InboundMessage))
    )
    assert subjects == sorted(f"Mail {i}" for i in range(12))
