"""Web-form submissions."""

from crm.leads import processing


def process_pending() -> int:
    """Drain every stored submission, a batch per transaction (what each post wakes)."""
    return processing.process_pending()
