"""Email out."""

from crm import outbox


def send_email(outbox_id: int) -> str | None:
    status = outbox.deliver(outbox_id)
    return status.value if status else None
