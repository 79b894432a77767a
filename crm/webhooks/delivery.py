"""Sending deliveries: claim the row, POST the signed JSON, record the outcome, retry or give up.

Promise: a delivery row is sent at most once at a time (a conditional UPDATE claims it, like the
email outbox) and is marked delivered, retried later or failed in the same transaction that
records the attempt, so a sweep after a crash resends only what never got an answer. Network
errors and non-2xx answers are retried with exponential backoff (30 s, 1 min, 2 min … capped at
an hour) for a day after the delivery was created. A webhook whose deliveries have failed for a
day without one success is paused, its pending deliveries fail, and its team's admins get an
email through the outbox. `now` is a parameter so tests drive the clock without sleeping.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import or_, select, update

from crm import outbox, queue
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import members
from crm.models import DeliveryStatus, Membership, Role, Webhook, WebhookDelivery, utcnow
from crm.webhooks import urls
from crm.webhooks.signing import HEADER, signature

log = logging.getLogger(__name__)

JOB = "jobs.webhooks.deliver"
TIMEOUT_SECONDS = 5
RETRY_FOR = timedelta(days=1)
PAUSE_AFTER = timedelta(days=1)
STALE_CLAIM = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
USER_AGENT = "Rapport-Webhooks/1"


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_WAIT)


def enqueue(delivery_ids: Iterable[int]) -> None:
    for delivery_id in delivery_ids:
        queue.enqueue(JOB, delivery_id, job_id=f"webhook-delivery-{delivery_id}")


# -- claiming ---------------------------------------------------------------------------


def _due(now: datetime):
    return (
        WebhookDelivery.status == DeliveryStatus.PENDING,
        or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
    )


def claim(delivery_ids: Iterable[int], now: datetime) -> list[int]:
    """Claim the given deliveries that are still pending and due; returns the ones we got."""
    ids = list(delivery_ids)
    if not ids:
        return []
    got = []
    for delivery_id in ids:
        # One UPDATE per row: its rowcount says whether this worker won the row.
        won = db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, *_due(now))
            .values(status=DeliveryStatus.SENDING, claimed_at=now)
        ).rowcount
        if won:
            got.append(delivery_id)
    db.session.commit()
    return got


def deliver(delivery_id: int, now: datetime | None = None) -> DeliveryStatus | None:
    """The job: send one delivery if it is pending and due; returns its new status."""
    now = now or utcnow()
    if not claim([delivery_id], now):
        return None  # sent already, being sent, or not due yet
    return attempt(db.session.get(WebhookDelivery, delivery_id), now)


def deliver_due(limit: int = 200, now: datetime | None = None) -> int:
    """Claim and send up to `limit` due deliveries in one go (keep-alive per host); a count."""
    now = now or utcnow()
    ids = db.session.scalars(
        select(WebhookDelivery.id).where(*_due(now)).order_by(WebhookDelivery.id).limit(limit)
    ).all()
    got = claim(ids, now)
    for delivery_id in got:
        attempt(db.session.get(WebhookDelivery, delivery_id), now, commit=False)
    db.session.commit()
    return len(got)


# -- one attempt ------------------------------------------------------------------------


def attempt(delivery: WebhookDelivery, now: datetime, *, commit: bool = True) -> DeliveryStatus:
    """POST a claimed delivery and record what happened."""
    webhook = delivery.webhook
    if not webhook.active:
        delivery.status, delivery.error = DeliveryStatus.FAILED, "The webhook is paused."
        if commit:
            db.session.commit()
        return delivery.status
    body = delivery.payload.encode()
    started = time.perf_counter()
    code, error = None, None
    try:
        urls.check(webhook.url)  # again, after a fresh DNS lookup: the name may point inward now
        code = post(webhook.url, body, webhook.secret, int(now.timestamp()), delivery.id)
        if not 200 <= code < 300:
            error = f"The receiver answered {code}."
    except Invalid as refused:
        error = refused.message
    except (OSError, http.client.HTTPException) as failure:
        error = f"{type(failure).__name__}: {failure}"[:2000]
    delivery.duration_ms = int((time.perf_counter() - started) * 1000)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_code = code
    delivery.error = error
    delivery.claimed_at = None
    if error is None:
        delivery.status = DeliveryStatus.DELIVERED
        webhook.failing_since = None
    else:
        _failed(delivery, webhook, now)
    if commit:
        db.session.commit()
        if delivery.status == DeliveryStatus.PENDING:
            queue.enqueue(
                JOB, delivery.id, at=delivery.next_attempt_at, job_id=_retry_job(delivery)
            )
    return delivery.status


def _retry_job(delivery: WebhookDelivery) -> str:
    return f"webhook-delivery-{delivery.id}-{delivery.attempts}"


def _failed(delivery: WebhookDelivery, webhook: Webhook, now: datetime) -> None:
    if webhook.failing_since is None:
        webhook.failing_since = now
    if now - webhook.failing_since >= PAUSE_AFTER:
        pause(webhook, now)
        delivery.status = DeliveryStatus.FAILED
        return
    if now - delivery.created_at >= RETRY_FOR:
        delivery.status = DeliveryStatus.FAILED
        return
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now + backoff(delivery.attempts)


def pause(webhook: Webhook, now: datetime) -> None:
    """Stop calling a webhook that has failed for a day; tell the team's admins (caller commits)."""
    webhook.active = False
    webhook.paused_at = now
    db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.webhook_id == webhook.id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.FAILED, error="The webhook was paused.")
    )
    admins = db.session.scalars(
        select(Membership).where(
            Membership.team_id == webhook.team_id, Membership.role.in_((Role.OWNER, Role.ADMIN))
        )
    ).all()
    base = current_app.config["BASE_URL"].rstrip("/")
    for membership in admins:
        outbox.queue_email(
            to=membership.user.email,
            subject="A webhook was paused after a day of failed deliveries",
            template="webhook_paused",
            kind="webhook_paused",
            team_id=webhook.team_id,
            webhook=webhook,
            name=members.user_name(membership.user_id),
            link=f"{base}/settings/webhooks/{webhook.id}",
        )


# -- HTTP: one keep-alive connection per host and thread ----------------------------------

_local = threading.local()


def post(url: str, body: bytes, secret: str, timestamp: int, delivery_id: int) -> int:
    """POST `body` signed with `secret`; the answer's status code (errors raise OSError)."""
    parts = urlsplit(url)
    key = (parts.scheme, parts.hostname, parts.port)
    connections = _local.__dict__.setdefault("connections", {})
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER: signature(secret, body, timestamp),
        "Rapport-Delivery": str(delivery_id),
    }
    for retry in (True, False):
        connection = connections.get(key)
        fresh = connection is None
        if fresh:
            cls = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            connection = cls(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS)
            connections[key] = connection
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(64 * 1024)  # drain (bounded) so the connection can be reused
            if response.will_close:
                connection.close()
                connections.pop(key, None)
            return response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            connections.pop(key, None)
            # A kept-alive connection the server closed meanwhile: try once on a new one.
            if fresh or not retry:
                raise
    raise AssertionError("unreachable")


# -- the sweep --------------------------------------------------------------------------


def sweep(now: datetime | None = None) -> int:
    """Reclaim deliveries whose worker died mid-send and re-enqueue every due one."""
    now = now or utcnow()
    db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == DeliveryStatus.SENDING,
            WebhookDelivery.claimed_at < now - STALE_CLAIM,
        )
        .values(status=DeliveryStatus.PENDING)
    )
    db.session.commit()
    due = db.session.scalars(select(WebhookDelivery.id).where(*_due(now))).all()
    enqueue(due)
    return len(due)
