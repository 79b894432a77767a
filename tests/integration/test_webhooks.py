"""Webhooks: registered by admins, delivered signed to a real receiver on loopback, retried,
paused after a day of failures, refused for private addresses, redelivered from the log."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from crm.contacts import services as contacts
from crm.errors import Invalid
from crm.extensions import db
from crm.models import (
    DeliveryStatus,
    OutboundEmail,
    Role,
    Webhook,
    WebhookDelivery,
    utcnow,
)
from crm.webhooks import delivery, services
from tests import factories

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_verifier():
    """The receiver's snippet from docs/webhooks.md, run as a receiver would run it."""
    text = DOCS.read_text()
    code = re.search(r"<!-- verify-snippet.*?-->\s*```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_rapport_signature"]


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records each POST and answers planned statuses."""

    def __init__(self):
        self.received: list[dict] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/rapport"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def make_hook(team, owner, url, events=("contact.created",)) -> tuple[Webhook, str]:
    return services.create_webhook(team.id, owner.id, url=url, events=events)


def deliveries(webhook_id: int) -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.id)
        )
    )


def test_an_admin_registers_a_webhook_and_sees_its_secret_once(logged_in, receiver):
    page = logged_in.get("/settings/webhooks")
    assert page.status_code == 200
    assert b'<label for="url">Endpoint URL</label>' in page.data
    assert b"contact.created" in page.data and b"deal.stage_changed" in page.data
    created = logged_in.post(
        "/settings/webhooks",
        data={"url": receiver.url, "events": ["contact.created", "deal.won"]},
    )
    assert created.status_code == 201
    webhook = db.session.scalars(select(Webhook)).one()
    assert webhook.events == ["contact.created", "deal.won"]
    assert webhook.secret.encode() in created.data
    shown = logged_in.get(f"/settings/webhooks/{webhook.id}")
    assert webhook.secret.encode() not in shown.data  # only ever shown masked again
    regenerated = logged_in.post(f"/settings/webhooks/{webhook.id}/secret")
    db.session.refresh(webhook)
    assert webhook.secret.encode() in regenerated.data


def test_a_webhook_needs_a_url_and_an_event(logged_in):
    response = logged_in.post("/settings/webhooks", data={"url": "ftp://example.com/x"})
    assert response.status_code == 422
    assert b"http:// or https://" in response.data
    response = logged_in.post("/settings/webhooks", data={"url": "http://127.0.0.1:9/"})
    assert response.status_code == 422 and b"Choose at least one event." in response.data


def test_members_who_are_not_admins_cannot_manage_webhooks(client, auth, team):
    member = factories.make_member(team, role=Role.MEMBER)
    auth.login(member.email)
    assert client.get("/settings/webhooks").status_code == 403


def test_a_change_reaches_the_receiver_signed_after_the_request_is_done(
    logged_in, team, owner, receiver, run_jobs
):
    webhook, secret = make_hook(team, owner, receiver.url)
    response = logged_in.post(
        "/contacts/new",
        data={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "emails-0-email": "ada@example.com",
            "emails-0-label": "work",
            "owner_id": "0",
            "lifecycle": "lead",
        },
    )
    assert response.status_code == 303
    # The request only wrote the delivery row: nothing has been sent yet.
    assert receiver.received == []
    [row] = deliveries(webhook.id)
    assert row.status == DeliveryStatus.PENDING
    run_jobs()
    [request] = receiver.received
    verify = documented_verifier()
    assert verify(secret, request["body"], request["headers"]["Rapport-Signature"])
    assert not verify("whsec_wrong", request["body"], request["headers"]["Rapport-Signature"])
    assert not verify(secret, request["body"] + b" ", request["headers"]["Rapport-Signature"])
    body = json.loads(request["body"])
    assert body["event"] == "contact.created" and body["team_id"] == team.id
    assert body["data"]["first_name"] == "Ada" and body["data"]["emails"] == ["ada@example.com"]
    assert set(body) >= {"id", "event", "created_at", "team_id", "data"}
    [row] = deliveries(webhook.id)
    assert (row.status, row.response_code, row.attempts) == (DeliveryStatus.DELIVERED, 200, 1)
    log = logged_in.get(f"/settings/webhooks/{webhook.id}")
    assert b"delivered" in log.data and b"Redeliver" in log.data


def test_only_chosen_events_of_the_own_team_are_delivered(team, owner, receiver):
    webhook, _ = make_hook(team, owner, receiver.url, events=("contact.updated",))
    contact = contacts.create_contact(team.id, owner.id, {"first_name": "Ada"})
    other = factories.make_user(team_name="Other team")
    contacts.create_contact(factories.team_of(other).id, other.id, {"first_name": "Bob"})
    assert deliveries(webhook.id) == []
    contacts.update_contact(contact, owner.id, {"last_name": "Lovelace"})
    [row] = deliveries(webhook.id)
    assert row.event == "contact.updated"
    assert json.loads(row.payload)["changes"] == {"Last name": ["—", "Lovelace"]}


def test_a_500_is_retried_with_backoff_then_delivered(team, owner, receiver):
    webhook, secret = make_hook(team, owner, receiver.url)
    contacts.create_contact(team.id, owner.id, {"first_name": "Ada"})
    [row] = deliveries(webhook.id)
    receiver.answers = [500]
    now = utcnow()
    assert delivery.deliver(row.id, now=now) == DeliveryStatus.PENDING
    row = deliveries(webhook.id)[0]
    assert row.response_code == 500 and row.next_attempt_at == now + delivery.FIRST_RETRY
    assert delivery.deliver(row.id, now=now + timedelta(seconds=10)) is None  # not due yet
    assert delivery.deliver(row.id, now=now + timedelta(seconds=31)) == DeliveryStatus.DELIVERED
    row = deliveries(webhook.id)[0]
    assert (row.attempts, row.response_code, row.error) == (2, 200, None)
    first, second = receiver.received
    assert first["body"] == second["body"]  # the same payload, signed afresh
    assert delivery.backoff(1) < delivery.backoff(2) < delivery.backoff(3)
    assert delivery.backoff(30) == delivery.LONGEST_WAIT


def test_a_network_error_is_retried(team, owner):
    webhook, _ = make_hook(team, owner, "http://127.0.0.1:9/closed")  # discard port: refused
    contacts.create_contact(team.id, owner.id, {"first_name": "Ada"})
    [row] = deliveries(webhook.id)
    assert delivery.deliver(row.id) == DeliveryStatus.PENDING
    row = deliveries(webhook.id)[0]
    assert row.response_code is None and "Error" in row.error


def test_a_webhook_failing_for_a_day_is_paused_and_its_admins_are_told(team, owner, receiver):
    admin = factories.make_member(team, role=Role.ADMIN)
    factories.make_member(team, role=Role.MEMBER)
    webhook, _ = make_hook(team, owner, receiver.url)
    contacts.create_contact(team.id, owner.id, {"first_name": "Ada"})
    contacts.create_contact(team.id, owner.id, {"first_name": "Bob"})
    first, waiting = deliveries(webhook.id)
    receiver.answers = [503] * 10
    now = utcnow()
    assert delivery.deliver(first.id, now=now) == DeliveryStatus.PENDING
    later = now + timedelta(hours=23)
    assert delivery.deliver(first.id, now=later) == DeliveryStatus.PENDING
    assert db.session.get(Webhook, webhook.id).active
    a_day_later = now + timedelta(days=1, minutes=1)
    assert delivery.deliver(first.id, now=a_day_later) == DeliveryStatus.FAILED
    db.session.expire_all()
    webhook = db.session.get(Webhook, webhook.id)
    assert not webhook.active and webhook.paused_at == a_day_later
    assert db.session.get(WebhookDelivery, waiting.id).status == DeliveryStatus.FAILED
    mails = db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "webhook_paused"))
    assert sorted(m.to_addr for m in mails) == sorted([owner.email, admin.email])
    # Nothing more is sent to a paused webhook until an admin resumes it.
    contacts.create_contact(team.id, owner.id, {"first_name": "Cy"})
    assert len(deliveries(webhook.id)) == 2
    services.set_active(webhook, True)
    assert webhook.failing_since is None and webhook.paused_at is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8000/hook",
        "http://192.168.0.10/hook",
        "http://localhost/hook",
    ],
)
def test_private_and_local_addresses_are_refused_unless_allowed(app, team, owner, url):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    with pytest.raises(Invalid) as refused:
        make_hook(team, owner, url)
    assert refused.value.field == "url" and "private or local" in refused.value.message
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    assert make_hook(team, owner, url)[0].id


def test_the_page_shows_the_refusal_on_the_url_field(app, logged_in):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    response = logged_in.post(
        "/settings/webhooks",
        data={"url": "http://169.254.169.254/", "events": ["contact.created"]},
    )
    assert response.status_code == 422
    assert b'id="url-error"' in response.data and b"private or local" in response.data


def test_an_address_turned_private_is_refused_again_at_delivery(app, team, owner, receiver):
    webhook, _ = make_hook(team, owner, receiver.url)
    contacts.create_contact(team.id, owner.id, {"first_name": "Ada"})
    [row] = deliveries(webhook.id)
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    assert delivery.deliver(row.id) == DeliveryStatus.PENDING
    assert receiver.received == []
    assert "private or local" in deliveries(webhook.id)[0].error


def test_redeliver_sends_the_same_event_again(logged_in, team, owner, receiver, run_jobs):
    webhook, _ = make_hook(team, owner, receiver.url)
    contacts.create_contact(team.id, owner.id, {"first_name": "Ada"})
    run_jobs()
    [row] = deliveries(webhook.id)
    response = logged_in.post(f"/settings/webhooks/{webhook.id}/deliveries/{row.id}/redeliver")
    assert response.status_code == 303
    run_jobs()
    first, again = deliveries(webhook.id)
    assert again.event_id == first.event_id and again.status == DeliveryStatus.DELIVERED
    assert [json.loads(r["body"])["id"] for r in receiver.received] == [first.event_id] * 2


def test_the_sweep_resends_deliveries_whose_job_was_lost(team, owner, receiver, app, run_jobs):
    webhook, _ = make_hook(team, owner, receiver.url)
    contacts.create_contact(team.id, owner.id, {"first_name": "Ada"})
    app.extensions["rq_connection"].flushall()  # Redis lost its queue
    run_jobs()
    assert receiver.received == []
    assert delivery.sweep() == 1
    run_jobs()
    assert len(receiver.received) == 1
    assert deliveries(webhook.id)[0].status == DeliveryStatus.DELIVERED


def test_delete_and_pause_from_the_page(logged_in, team, owner, receiver):
    webhook, _ = make_hook(team, owner, receiver.url)
    assert (
        logged_in.post(f"/settings/webhooks/{webhook.id}/active", data={"active": "0"}).status_code
        == 303
    )
    db.session.refresh(webhook)
    assert not webhook.active
    contacts.create_contact(team.id, owner.id, {"first_name": "Ada"})
    assert deliveries(webhook.id) == []
    assert logged_in.post(f"/settings/webhooks/{webhook.id}/delete").status_code == 303
    assert db.session.scalars(select(Webhook)).all() == []
