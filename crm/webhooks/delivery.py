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
import socket
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from crm import outbox, queue
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import members, work
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
BATCH = 100
PARALLEL = 4  # connections per batch


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_WAIT)


def enqueue(delivery_ids: Iterable[int], at: datetime | None = None) -> None:
    """Jobs of at most BATCH deliveries (one commit's, usually): sent together, and short
    enough that even slow receivers (TIMEOUT_SECONDS each, PARALLEL at once) finish well
    within the worker's job timeout."""
    ids = sorted(delivery_ids)
    suffix = f"-{int(at.timestamp())}" if at else ""
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        job_id = f"webhook-deliveries-{chunk[0]}-{len(chunk)}{suffix}"
        queue.enqueue(JOB, chunk, at=at, job_id=job_id)


# -- claiming ---------------------------------------------------------------------------


def _due(now: datetime):
    return (
        WebhookDelivery.status == DeliveryStatus.PENDING,
        or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
    )


def claim(delivery_ids: Iterable[int], now: datetime) -> list[int]:
    """Claim those of the deliveries that are still pending and due; returns the ones we got
    (the kernel's claim: a row another worker claimed first is not returned)."""
    ids = list(delivery_ids)
    if ids and len(ids) <= BATCH:
        # A read first: in a burst most jobs find their rows already sent by the one that took
        # the backlog, and a read costs no write transaction (SQLite: no lock, no sync).
        ids = db.session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.id.in_(ids), *_due(now))
        ).all()
    if not ids:
        return []
    return work.claim_batch(
        WebhookDelivery,
        *_due(now),
        values={"status": DeliveryStatus.SENDING, "claimed_at": now},
        limit=len(ids),
        ids=ids,
    )


def deliver(delivery_ids: int | Iterable[int], now: datetime | None = None):
    """The job: send the given deliveries that are pending and due.

    Returns the new status (one id given; None when it was not ours to send) or the number sent.
    The HTTP calls all happen before any row is written, so no write transaction (SQLite's
    database lock) is held while a receiver is slow; the outcomes are then saved in one commit,
    and the ones to retry enqueued for their time.
    """
    single = isinstance(delivery_ids, int)
    now = now or utcnow()
    got = claim([delivery_ids] if single else delivery_ids, now)
    if not got:
        return None if single else 0
    rows = db.session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.id.in_(got))
        .options(joinedload(WebhookDelivery.webhook))
        .order_by(WebhookDelivery.id)
        .execution_options(populate_existing=True)
    ).all()
    allow = urls.allow_private()
    if len(rows) == 1:
        outcomes = _send_all(rows, now, allow)
    else:
        # A receiver's round trip, not our CPU, bounds the rate: send a batch over a few
        # connections at once (so deliveries are not ordered; the docs say so).
        lanes = [rows[i::PARALLEL] for i in range(min(PARALLEL, len(rows)))]
        outcomes = [
            o for lane in _pool().map(lambda lane: _send_all(lane, now, allow), lanes) for o in lane
        ]
    with db.session.no_autoflush:
        for row, code, error, duration in outcomes:
            _record(row, code, error, duration, now)
    db.session.commit()
    retries: dict[datetime, list[int]] = {}
    for row in rows:
        if row.status == DeliveryStatus.PENDING:
            retries.setdefault(row.next_attempt_at, []).append(row.id)
    for at, ids in retries.items():
        enqueue(ids, at=at)
    return rows[0].status if single else len(rows)


def deliver_due(limit: int = BATCH, now: datetime | None = None) -> int:
    """Claim and send up to `limit` due deliveries in one go; the number sent."""
    now = now or utcnow()
    ids = db.session.scalars(
        select(WebhookDelivery.id).where(*_due(now)).order_by(WebhookDelivery.id).limit(limit)
    ).all()
    return deliver(list(ids), now) if ids else 0


# -- one attempt ------------------------------------------------------------------------


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """Long-lived sender threads, so their kept-alive connections outlive one batch."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(PARALLEL, thread_name_prefix="webhook-sender")
        return _executor


def _send_all(rows, now: datetime, allow: bool) -> list[tuple]:
    """Send rows one after another; a batch never waits out a dead receiver's timeout twice."""
    outcomes, unreachable = [], {}
    for row in rows:
        if row.webhook_id in unreachable:
            outcomes.append((row, None, unreachable[row.webhook_id], 0))
            continue
        code, error, duration = _send(row, now, allow)
        if code is None and error:
            unreachable[row.webhook_id] = error
        outcomes.append((row, code, error, duration))
    return outcomes


def _send(
    delivery: WebhookDelivery, now: datetime, allow: bool
) -> tuple[int | None, str | None, int]:
    """POST one delivery: (status code, error or None, milliseconds). No database, no app."""
    webhook = delivery.webhook
    if not webhook.active:
        return None, "The webhook is paused.", 0
    started = time.perf_counter()
    code, error = None, None
    try:
        urls.check(
            webhook.url, allow_private_hosts=allow
        )  # again, after a fresh DNS lookup: the name may point inward now
        code = post(
            webhook.url,
            delivery.payload.encode(),
            webhook.secret,
            int(now.timestamp()),
            delivery.id,
        )
        if not 200 <= code < 300:
            error = f"The receiver answered {code}."
    except Invalid as refused:
        error = refused.message
    except (OSError, http.client.HTTPException) as failure:
        error = f"{type(failure).__name__}: {failure}"[:2000]
    return code, error, int((time.perf_counter() - started) * 1000)


def _record(delivery, code, error, duration_ms, now) -> None:
    webhook = delivery.webhook
    delivery.claimed_at = None
    if not webhook.active:
        delivery.status, delivery.error = DeliveryStatus.FAILED, error
        return
    delivery.duration_ms = duration_ms
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_code = code
    delivery.error = error
    if error is None:
        delivery.status = DeliveryStatus.DELIVERED
        webhook.failing_since = None
    else:
        _failed(delivery, webhook, now)


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
    if not webhook.active:
        return
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
        try:
            if fresh:
                cls = (
                    http.client.HTTPSConnection
                    if parts.scheme == "https"
                    else http.client.HTTPConnection
                )
                connection = cls(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS)
                connection.connect()
                # Headers and body go out in two writes: without this, Nagle's algorithm and
                # the receiver's delayed ACK add ~40 ms to every kept-alive request.
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                connections[key] = connection
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(64 * 1024)  # drain (bounded) so the connection can be reused
            if response.will_close:
                connection.close()
                connections.pop(key, None)
            return response.status
        except (OSError, http.client.HTTPException):
            if connection is not None:
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
    work.reclaim(
        WebhookDelivery,
        WebhookDelivery.status == DeliveryStatus.SENDING,
        work.stale(WebhookDelivery.claimed_at, STALE_CLAIM, now),
        values={"status": DeliveryStatus.PENDING},
    )
    due = db.session.scalars(select(WebhookDelivery.id).where(*_due(now))).all()
    enqueue(due)
    return len(due)
