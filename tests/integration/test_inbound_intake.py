"""Email-in intake: the SMTP listener and POST /inbound/email store the raw mail first."""

from __future__ import annotations

import smtplib

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.inbound.smtp import start_listener
from crm.models import InboundMessage, InboundStatus
from tests.servers import free_port

RAW = (
    b"From: Olive <olive@example.com>\r\nTo: dana@client.example\r\n"
    b"Subject: Proposal\r\nMessage-ID: <p1@example.com>\r\n\r\nHere it is.\r\n"
)


@pytest.fixture
def listener(app):
    app.config["SMTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    controller = start_listener(app)
    yield controller
    controller.stop()


def _address(user) -> str:
    return f"{user.inbound_token}@in.rapport.test"


def test_smtp_accepts_mail_for_a_personal_address_and_stores_it_raw(listener, owner):
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        refused = smtp.sendmail("olive@example.com", [_address(owner)], RAW)
    assert refused == {}
    message = db.session.scalars(select(InboundMessage)).one()
    assert message.raw == RAW
    assert message.user_id == owner.id and message.via == "smtp"
    assert message.status == InboundStatus.RECEIVED
    assert message.envelope_from == "olive@example.com"


def test_smtp_refuses_unknown_addresses_at_rcpt(listener, owner):
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        smtp.ehlo()
        smtp.mail("olive@example.com")
        code, text = smtp.rcpt("nosuchtoken1@in.rapport.test")
        assert code == 550 and b"No such Rapport address" in text
        code, _ = smtp.rcpt("someone@other.example")
        assert code == 550
    assert db.session.scalar(select(InboundMessage)) is None


def test_smtp_refuses_oversized_mail_with_552(app, owner):
    app.config["INBOUND_MAX_BYTES"] = 1000
    app.config["SMTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    controller = start_listener(app)
    try:
        with (
            smtplib.SMTP(controller.hostname, controller.port) as smtp,
            pytest.raises(smtplib.SMTPResponseException) as error,
        ):
            smtp.sendmail("olive@example.com", [_address(owner)], RAW + b"x" * 5000)
        assert error.value.smtp_code == 552
    finally:
        controller.stop()
    assert db.session.scalar(select(InboundMessage)) is None


def test_http_intake_needs_the_secret(client, owner):
    url = f"/inbound/email?to={_address(owner)}"
    assert client.post(url, data=RAW).status_code == 401
    wrong = client.post(url, data=RAW, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = client.post(url, data=RAW, headers={"Authorization": "Bearer inbound-test-secret"})
    assert ok.status_code == 202
    message = db.session.get(InboundMessage, ok.json["id"])
    assert message.raw == RAW and message.via == "http"


def test_http_intake_explains_bad_requests(client, owner):
    auth = {"Authorization": "Bearer inbound-test-secret"}
    missing_to = client.post("/inbound/email", data=RAW, headers=auth)
    assert missing_to.status_code == 400 and "address" in missing_to.json["error"]
    unknown = client.post("/inbound/email?to=zzzzzzzz9@in.rapport.test", data=RAW, headers=auth)
    assert unknown.status_code == 404
    empty = client.post(f"/inbound/email?to={_address(owner)}", data=b"", headers=auth)
    assert empty.status_code == 400
