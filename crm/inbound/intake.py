"""Accepting mail: find the user by the address's token, store the raw message, enqueue.

The raw message and its log row are committed before the SMTP or HTTP reply is given, so
anything a sender was told we accepted survives a crash; processing happens in a job.
"""

from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import select

from crm import queue
from crm.extensions import db
from crm.models import InboundMessage, Membership, User

LOCAL_PART = re.compile(r"^(?P<token>[a-z0-9]{8,32})(?:\+(?P<command>[a-z0-9-]{1,40}))?$")


class Rejected(Exception):
    """Refused mail, with the SMTP code and a message for the sender."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def user_for_address(address: str) -> User | None:
    """The user whose personal address this is (`token` or `token+command` @ our domain)."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    if domain != current_app.config["INBOUND_DOMAIN"].lower():
        return None
    match = LOCAL_PART.match(local)
    if not match:
        return None
    return db.session.scalars(
        select(User).where(User.inbound_token == match.group("token"))
    ).first()


def check_size(size: int) -> None:
    limit = current_app.config["INBOUND_MAX_BYTES"]
    if size > limit:
        raise Rejected(552, f"Message too large: the limit is {limit // (1024 * 1024)} MB")


def accept(raw: bytes, *, envelope_to: str, envelope_from: str | None, via: str) -> InboundMessage:
    """Store one received message for one of our addresses and enqueue its processing."""
    check_size(len(raw))
    user = user_for_address(envelope_to)
    if user is None:
        raise Rejected(550, f"No such Rapport address: {envelope_to}")
    team_id = user.last_team_id or db.session.scalar(
        select(Membership.team_id).where(Membership.user_id == user.id).limit(1)
    )
    message = InboundMessage(
        team_id=team_id,
        user_id=user.id,
        via=via,
        raw=raw,
        size=len(raw),
        envelope_to=envelope_to.strip().strip("<>").lower()[:254],
        envelope_from=(envelope_from or "")[:254] or None,
    )
    db.session.add(message)
    db.session.commit()
    queue.enqueue("jobs.inbound.process_inbound", message.id, job_id=f"inbound-{message.id}")
    return message
