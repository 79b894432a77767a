"""All models, imported here so Alembic and the app see the whole schema."""

from crm.models.base import UTCDateTime, new_token, utcnow
from crm.models.mail import (
    InboundMessage,
    InboundStatus,
    OutboundEmail,
    OutboxStatus,
)
from crm.models.team import Invitation, Membership, Role, Team, User

__all__ = [
    "InboundMessage",
    "InboundStatus",
    "Invitation",
    "Membership",
    "OutboundEmail",
    "OutboxStatus",
    "Role",
    "Team",
    "User",
    "UTCDateTime",
    "new_token",
    "utcnow",
]
