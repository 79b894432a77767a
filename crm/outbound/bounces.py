"""Bounces: a delivery report (DSN, multipart/report) that reached email-in marks the address.

Email-in rejects a bounce with the reason "bounce" (it is no conversation); this sweep reads
those of the last two days and, for each recipient the report says failed permanently
(Action: failed, Status 5.x.x), marks the team's ContactEmail as bouncing. Idempotent: an
address is marked once, so the sweep may run every minute.
"""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy

from sqlalchemy import select, update

from crm.extensions import db
from crm.models import ContactEmail, InboundMessage, InboundStatus, utcnow

WINDOW = timedelta(days=2)


def failed_recipients(raw: bytes) -> list[str]:
    """The addresses a DSN reports as permanently failed, lower-cased."""
    message = email.message_from_bytes(raw, policy=policy.default)
    if message.get_content_type() != "multipart/report":
        return []
    found = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in part.get_payload() or []:
            if not hasattr(block, "get"):
                continue
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip()
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
            if action == "failed" and status.startswith("5") and "@" in address:
                found.append(address)
    return found


def mark_bounces() -> int:
    """Sweep: mark addresses that hard-bounced (see the module docstring)."""
    since = utcnow() - WINDOW
    rows = db.session.execute(
        select(InboundMessage.team_id, InboundMessage.raw).where(
            InboundMessage.status == InboundStatus.REJECTED,
            InboundMessage.reason == "bounce",
            InboundMessage.team_id.is_not(None),
            InboundMessage.created_at >= since,
        )
    ).all()
    marked = 0
    now = utcnow()
    for team_id, raw in rows:
        addresses = failed_recipients(raw)
        if not addresses:
            continue
        marked += db.session.execute(
            update(ContactEmail)
            .where(
                ContactEmail.team_id == team_id,
                ContactEmail.email.in_(addresses),
                ContactEmail.bouncing_at.is_(None),
            )
            .values(bouncing_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    db.session.commit()
    return marked
