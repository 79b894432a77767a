"""Email-in processing."""

from crm.inbound import processing


def process_pending() -> int:
    """Drain every received message, a batch per transaction (what the intake enqueues)."""
    return processing.process_pending()


def process_inbound(message_id: int) -> str | None:
    """One message (the inbound log's Retry button)."""
    status = processing.process(message_id)
    return status.value if status else None
