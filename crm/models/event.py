"""The event outbox: every domain event, written in the transaction of the change it tells of."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.base import TeamOwned, UTCDateTime


class EventOutbox(TeamOwned, db.Model):
    """One domain event (crm.kernel.events). Committed with the change, so a change is never
    without its event; `published_at` is set once every subscriber has been told of it, and a
    sweep tells them of the rows a dead process left unpublished (its claim gone stale)."""

    __tablename__ = "event_outbox"
    __table_args__ = (Index("ix_event_outbox_unpublished", "published_at", "claimed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    record_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set by the process that committed the event (it publishes right after its commit);
    # a claim older than the lease belongs to a process that died in between.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
