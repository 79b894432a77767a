"""Pipelines, their stages, deals and lost reasons."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Date, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import TeamOwned, Timestamps, UTCDateTime, str_enum
from crm.models.contact import SoftDelete


class DealStatus(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


deal_contact = Table(
    "deal_contact",
    db.metadata,
    Column("deal_id", ForeignKey("deal.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "contact_id", ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)

deal_tag = Table(
    "deal_tag",
    db.metadata,
    Column("deal_id", ForeignKey("deal.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Pipeline(TeamOwned, Timestamps, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)
    is_default: Mapped[bool] = mapped_column(default=False)

    stages: Mapped[list[Stage]] = relationship(
        back_populates="pipeline", order_by="Stage.position", cascade="all, delete-orphan"
    )


class Stage(TeamOwned, Timestamps, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)
    probability: Mapped[int] = mapped_column(default=0)  # percent, 0–100
    # Deals with no activity for this many days are flagged as rotting (None: never).
    rot_days: Mapped[int | None] = mapped_column()

    pipeline: Mapped[Pipeline] = relationship(back_populates="stages")


class LostReason(TeamOwned, Timestamps, db.Model):
    __tablename__ = "lost_reason"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)


class Deal(TeamOwned, Timestamps, SoftDelete, db.Model):
    __table_args__ = (
        Index("ix_deal_board", "team_id", "pipeline_id", "status", "stage_id", "position", "id"),
        Index("ix_deal_team_owner", "team_id", "owner_id", "status"),
        Index("ix_deal_team_close", "team_id", "expected_close"),
        Index("ix_deal_team_updated", "team_id", "updated_at", "id"),  # API sync
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stage.id", ondelete="RESTRICT"), index=True)
    # Exact money: minor units (cents) and an ISO 4217 code.
    value_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("company.id", ondelete="SET NULL"), index=True
    )
    expected_close: Mapped[date | None] = mapped_column(Date)
    status: Mapped[DealStatus] = mapped_column(str_enum(DealStatus, 16), default=DealStatus.OPEN)
    lost_reason_id: Mapped[int | None] = mapped_column(
        ForeignKey("lost_reason.id", ondelete="SET NULL")
    )
    lost_note: Mapped[str | None] = mapped_column(String(500))
    # Order within the stage column; gaps let a move touch one row.
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stage_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    pipeline: Mapped[Pipeline] = relationship()
    stage: Mapped[Stage] = relationship()
    owner = relationship("User", foreign_keys=[owner_id])
    company = relationship("Company")
    lost_reason: Mapped[LostReason | None] = relationship()
    contacts = relationship("Contact", secondary=deal_contact, order_by="Contact.sort_name")
    tags = relationship("Tag", secondary=deal_tag, order_by="Tag.name")
