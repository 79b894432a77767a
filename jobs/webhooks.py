"""Webhook deliveries."""

from crm.webhooks import delivery


def deliver(delivery_id: int) -> str | None:
    status = delivery.deliver(delivery_id)
    return status.value if status else None
