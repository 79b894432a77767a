"""Email out: bulk delivery and sequences."""

from crm.outbound import bulk


def deliver_bulk(bulk_id: int) -> int:
    return bulk.deliver(bulk_id)
