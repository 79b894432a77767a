"""Webhook deliveries."""

from crm.webhooks import delivery


def deliver(delivery_ids: list[int]) -> int:
    return delivery.deliver(list(delivery_ids))
