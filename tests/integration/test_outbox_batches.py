"""Delivering outbox rows in batches (bulk send): one SMTP connection per batch, each mail
marked sent as soon as the server took it, a refused or unbuildable mail failed on its own
(retried later with the same Message-ID), and a batch run twice sends nothing twice."""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from crm import outbox
from crm.extensions import db
from crm.models import OutboundEmail, OutboxStatus, utcnow
from tests import factories
from tests.servers import free_port


class Server:
    """The receiving server: counts connections, refuses one address with a 550."""

    def __init__(self):
        self.messages, self.connections = [], 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refused@"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def server(app):
    handler = Server()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_USE_TLS=False)
    yield handler
    controller.stop()


def _rows(team, addresses, subject="Hello") -> list[int]:
    ids = outbox.queue_composed_many(
        [
            {
                "team_id": team.id,
                "kind": "bulk",
                "sender": "Olive <olive@example.com>",
                "to": [f"Person <{address}>"],
                "subject": subject,
                "text": f"Hi {address}",
                "html": "<p>Hi</p>",
                "headers": {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            }
            for address in addresses
        ]
    )
    db.session.commit()
    return ids


def _status(ids):
    db.session.expire_all()
    rows = db.session.scalars(select(OutboundEmail).where(OutboundEmail.id.in_(ids))).all()
    return {row.to_addr.split("<")[-1].rstrip(">"): row for row in rows}


def test_a_batch_goes_over_one_connection_and_each_mail_is_marked_sent(owner, server):
    team = factories.team_of(owner)
    ids = _rows(team, [f"p{i}@client.example" for i in range(5)])
    assert outbox.deliver_batch(ids) == 5
    assert server.connections == 1
    assert sorted(e.rcpt_tos[0] for e in server.messages) == [
        f"p{i}@client.example" for i in range(5)
    ]
    rows = _status(ids)
    assert {row.status for row in rows.values()} == {OutboxStatus.SENT}
    assert all(row.attempts == 1 and row.sent_at is not None for row in rows.values())
    message = email.message_from_bytes(server.messages[0].original_content, policy=policy.default)
    assert message["Message-ID"] == rows[server.messages[0].rcpt_tos[0]].message_id
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "\r\n" in server.messages[0].original_content.decode()

    assert outbox.deliver_batch(ids) == 0  # run again (a duplicate job): nothing is sent twice
    assert len(server.messages) == 5


def test_a_refused_mail_is_retried_alone_with_the_same_message_id(owner, server):
    team = factories.team_of(owner)
    ids = _rows(team, ["a@client.example", "refused@client.example", "b@client.example"])
    outbox.deliver_batch(ids)
    rows = _status(ids)
    refused = rows["refused@client.example"]
    assert refused.status == OutboxStatus.PENDING and refused.attempts == 1
    assert "550" in refused.last_error and refused.next_attempt_at > utcnow()
    assert rows["a@client.example"].status == rows["b@client.example"].status == OutboxStatus.SENT
    assert len(server.messages) == 2

    refused.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    outbox.deliver_batch(ids)
    assert len(server.messages) == 2  # a and b are not sent again
    assert _status(ids)["refused@client.example"].attempts == 2


def test_an_unbuildable_mail_fails_with_its_reason_and_the_rest_are_sent(owner, server):
    team = factories.team_of(owner)
    ids = _rows(team, ["a@client.example", "b@client.example"])
    broken = db.session.get(OutboundEmail, ids[0])
    broken.subject = "Hello\nBcc: everyone@example.com"
    db.session.commit()
    outbox.deliver_batch(ids)
    rows = _status(ids)
    assert rows["a@client.example"].status == OutboxStatus.FAILED
    assert rows["a@client.example"].last_error.startswith("Cannot build the message")
    assert rows["b@client.example"].status == OutboxStatus.SENT
    assert [e.rcpt_tos for e in server.messages] == [["b@client.example"]]


def test_server_down_leaves_the_whole_batch_for_a_retry(app, owner):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_USE_TLS=False)
    team = factories.team_of(owner)
    ids = _rows(team, ["a@client.example", "b@client.example"])
    assert outbox.deliver_batch(ids) == 2
    rows = _status(ids)
    assert {row.status for row in rows.values()} == {OutboxStatus.PENDING}
    assert all(row.attempts == 1 and row.last_error for row in rows.values())


def test_plain_and_non_ascii_mails_arrive_the_same_way(owner, server):
    """The cheap builder (ASCII headers) and the full one (anything else) give mails that
    read the same: headers, both parts, the text as written."""
    team = factories.team_of(owner)
    ids = _rows(team, ["a@client.example"], subject="Plain news")
    ids += _rows(team, ["b@client.example"], subject="Grüße aus Köln")
    outbox.deliver_batch(ids)
    received = {
        e.rcpt_tos[0]: email.message_from_bytes(e.original_content, policy=policy.default)
        for e in server.messages
    }
    for address, subject in [
        ("a@client.example", "Plain news"),
        ("b@client.example", "Grüße aus Köln"),
    ]:
        message = received[address]
        assert message["Subject"] == subject
        assert message["From"] == "Olive <olive@example.com>"
        assert message["To"] == f"Person <{address}>"
        assert message.get_body(("plain",)).get_content().strip() == f"Hi {address}"
        assert message.get_body(("html",)).get_content().strip() == "<p>Hi</p>"
        assert message["Date"] and message["Message-ID"]
