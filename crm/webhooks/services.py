"""Managing webhooks (admins): register, change, pause/resume, new secret, delete, redeliver.

The secret signs every delivery, so it is kept as is (not hashed) and shown to the admin once,
when the webhook is created or the secret regenerated. Services commit; a redelivery is a new
delivery row with the original payload (same event id), enqueued after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import features
from crm.models import DeliveryStatus, Webhook, WebhookDelivery
from crm.webhooks import delivery, urls
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


def masked(secret: str) -> str:
    return secret[:6] + "…" + secret[-4:]
