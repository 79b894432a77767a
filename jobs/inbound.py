"""Email-in processing."""

from crm.inbound import processing


def process_inbound(message_id: int) -> str | None:
    status = processing.process(message_id)
    return status.value if status else None
