"""Managing webhooks (admins): register, change, pause/resume, new secret, delete, redeliver.

The secret signs every delivery, so it is kept as is (not hashed) and shown to the admin once,
when the webhook is created or the secret regenerated. Services commit; a redelivery is a new
delivery row with the original payload (same event id), enqueued after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import features
from crm.kernel.events import Event
from crm.models import DeliveryStatus, Webhook, WebhookDelivery
from crm.webhooks import delivery, payloads, urls
from crm.webhooks.signing import new_secret


def event_names() -> list[str]:
    return features.event_names()


def _clean(url: str, events: Iterable[str], description: str | None) -> tuple[str, list, str]:
    url = (url or "").strip()
    if len(url) > 2000:
        raise Invalid("That URL is too long.", "url")
    urls.check(url)
    known = event_names()
    chosen = [name for name in known if name in set(events or ())]
    if not chosen:
        raise Invalid("Choose at least one event.", "events")
    return url, chosen, (description or "").strip()[:200] or None


def create_webhook(
    team_id: int, actor_id: int | None, *, url: str, events: Iterable[str], description=None
) -> tuple[Webhook, str]:
    """A new active webhook and its secret (show it now: it is not shown again)."""
    url, chosen, description = _clean(url, events, description)
    secret = new_secret()
    webhook = Webhook(
        team_id=team_id,
        url=url,
        events=chosen,
        description=description,
        secret=secret,
        active=True,
        created_by_id=actor_id,
    )
    db.session.add(webhook)
    db.session.commit()
    return webhook, secret


def update_webhook(webhook: Webhook, *, url: str, events: Iterable[str], description=None):
    webhook.url, webhook.events, webhook.description = _clean(url, events, description)
    db.session.commit()
    return webhook


def regenerate_secret(webhook: Webhook) -> str:
    """A new secret: deliveries from now on are signed with it (pending retries too)."""
    webhook.secret = new_secret()
    db.session.commit()
    return webhook.secret


def set_active(webhook: Webhook, active: bool) -> Webhook:
    """Pause by hand, or resume a paused webhook (its failure clock starts again)."""
    webhook.active = active
    webhook.failing_since = None
    webhook.paused_at = None if active else webhook.paused_at
    db.session.commit()
    return webhook


def delete_webhook(webhook: Webhook) -> None:
    db.session.delete(webhook)
    db.session.commit()


def redeliver(original: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's payload again, as a new row in the log."""
    if not original.webhook.active:
        raise Invalid("Resume the webhook before redelivering.")
    row = WebhookDelivery(
        team_id=original.team_id,
        webhook_id=original.webhook_id,
        event_id=original.event_id,
        event=original.event,
        payload=original.payload,
        status=DeliveryStatus.PENDING,
    )
    db.session.add(row)
    db.session.commit()
    delivery.enqueue([row.id])
    return row


def choices(team_id: int) -> list[tuple[int, str]]:
    """(id, label) of the team's webhooks, for a picker (automation's "call a webhook")."""
    rows = db.session.scalars(
        select(Webhook).where(Webhook.team_id == team_id).order_by(Webhook.id)
    ).all()
    return [(w.id, w.description or w.url) for w in rows]


def queue_call(
    team_id: int,
    webhook_id,
    *,
    event: str,
    record_type: str,
    record_id: int,
    changes: dict | None = None,
) -> WebhookDelivery:
    """One delivery of `event` (about a record) to one of the team's webhooks, whatever events
    it subscribes to: automation's "call a webhook" action. The same row, signing, SSRF check
    and retries as any delivery. Added to the session: the caller commits (with its own record
    of the call), then calls `send([row.id])`."""
    webhook = db.session.scalars(
        select(Webhook).where(Webhook.team_id == team_id, Webhook.id == webhook_id)
    ).first()
    if webhook is None:
        raise Invalid("The webhook to call no longer exists.")
    if not webhook.active:
        raise Invalid("The webhook to call is paused (resume it in Settings → Webhooks).")
    ev = Event(event, team_id, record_type, record_id, None, dict(changes or {}))
    row = WebhookDelivery(
        team_id=team_id,
        webhook_id=webhook.id,
        event_id=ev.id,
        event=ev.name,
        payload=payloads.build(
            ev, payloads.record_data(db.session, record_type, record_id, team_id)
        ),
        status=DeliveryStatus.PENDING,
    )
    db.session.add(row)
    return row


def send(delivery_ids) -> None:
    """Hand committed deliveries to the worker (never sent from inside a request)."""
    delivery.enqueue(delivery_ids)


def masked(secret: str) -> str:
    return secret[:6] + "…" + secret[-4:]
