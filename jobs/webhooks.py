"""Webhook deliveries."""

import time

from crm.webhooks import delivery

BACKLOG_SECONDS = 20


def deliver(delivery_ids: list[int]) -> int:
    """Send the job's deliveries, then whatever else is due, in batches, for a bounded time.

    A burst of changes queues one job per change; the first of them to run takes the backlog
    BATCH at a time (one claim, PARALLEL connections, one commit), so the jobs after it find
    their rows sent and end after one claim statement.
    """
    sent = delivery.deliver(list(delivery_ids))
    deadline = time.monotonic() + BACKLOG_SECONDS
    while time.monotonic() < deadline and (more := delivery.deliver_due()):
        sent += more
    return sent
