"""Accepting mail: find the membership by the address's token, store the raw message, enqueue.

An address belongs to one membership (team + user): its mail is filed in that team only, and
once the membership ends the address is unknown (550), so nothing more is stored for it.

The raw message and its log row are committed before the SMTP or HTTP reply is given, so
anything a sender was told we accepted survives a crash; processing happens in a job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from crm.extensions import db
from crm.inbound import authresults, processing
from crm.models import InboundMessage, Membership

LOCAL_PART = re.compile(r"^(?P<token>[a-z0-9]{8,32})(?:\+(?P<command>[a-z0-9-]{1,40}))?$")


class Rejected(Exception):
    """Refused mail, with the SMTP code and a message for the sender."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def normalized(address: str) -> str:
    """An envelope address as we compare and store it: no brackets, no blanks, lower case."""
    return address.strip().strip("<>").strip().lower()


def membership_for_address(address: str) -> Membership | None:
    """The membership whose address this is (`token` or `token+command` @ our domain)."""
    local, _, domain = normalized(address).rpartition("@")
    if domain != current_app.config["INBOUND_DOMAIN"].lower():
        return None
    match = LOCAL_PART.match(local)
    if not match:
        return None
    return db.session.scalars(
        select(Membership).where(Membership.inbound_token == match.group("token"))
    ).first()


def check_size(size: int) -> None:
    limit = current_app.config["INBOUND_MAX_BYTES"]
    if size > limit:
        raise Rejected(552, f"Message too large: the limit is {limit // (1024 * 1024)} MB")


def accept(raw: bytes, *, envelope_to: str, envelope_from: str | None, via: str) -> InboundMessage:
    """Store one received message for one of our addresses and enqueue its processing."""
    message = _stored(raw, envelope_to, envelope_from, via, {})
    db.session.commit()
    processing.enqueue_drain()
    return message


@dataclass
class Envelope:
    """One SMTP transaction: the bytes, and every recipient the RCPT stage accepted."""

    raw: bytes
    rcpt_tos: list[str]
    mail_from: str | None
    via: str = "smtp"
    auth: dict | None = None  # authresults.check(raw), done by the listener off this thread


def accept_many(envelopes: list[Envelope]) -> list[str]:
    """Store several received messages in one transaction; the SMTP reply for each envelope.

    The listener hands over what arrived while the previous commit ran (a group commit), so
    concurrent sessions share one commit instead of queueing for the write lock one by one.
    Nothing is answered 250 before the commit that stores it; if the commit fails, every
    envelope of the group is told to try again.
    """
    memberships: dict[str, Membership | None] = {}
    replies = []
    stored = 0
    for envelope in envelopes:
        kept, refusal = 0, None
        # One stored message per distinct address, however often the envelope repeats it.
        for rcpt in dict.fromkeys(normalized(r) for r in envelope.rcpt_tos):
            try:
                message = _stored(
                    envelope.raw,
                    rcpt,
                    envelope.mail_from,
                    envelope.via,
                    memberships,
                    auth=envelope.auth,
                )
                envelope.auth = message.auth  # checked once per envelope, not per recipient
                kept += 1
            except Rejected as error:
                refusal = refusal or f"{error.code} {error.message}"
        stored += kept
        if refusal and not kept:
            replies.append(refusal)
        elif refusal:
            replies.append("250 2.0.0 Accepted for some recipients")
        else:
            replies.append("250 2.0.0 Message accepted")
    if stored:
        db.session.commit()
        processing.enqueue_drain()
    return replies


def _stored(
    raw: bytes,
    envelope_to: str,
    envelope_from: str | None,
    via: str,
    memberships: dict[str, Membership | None],
    auth: dict | None = None,
) -> InboundMessage:
    """Add (not commit) the log row of one message for one address, or raise Rejected."""
    check_size(len(raw))
    if envelope_to not in memberships:
        memberships[envelope_to] = membership_for_address(envelope_to)
    membership = memberships[envelope_to]
    if membership is None:
        raise Rejected(550, f"No such Rapport address: {envelope_to}")
    message = InboundMessage(
        team_id=membership.team_id,
        user_id=membership.user_id,
        via=via,
        raw=raw,
        size=len(raw),
        envelope_to=normalized(envelope_to)[:254],
        envelope_from=(envelope_from or "")[:254] or None,
        # Sender authentication as received (after the address check: no DNS for refused mail).
        auth=auth if auth is not None else authresults.check(raw),
    )
    db.session.add(message)
    return message
