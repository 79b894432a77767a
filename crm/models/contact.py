"""People, companies, their emails, phones and tags."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import TeamOwned, Timestamps, UTCDateTime, str_enum, utcnow


class SoftDelete:
    """Rows with deleted_at set are in the trash: hidden from scoped() reads, restorable."""

    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    def trash(self, actor_id: int | None) -> bool:
        """Move to the trash; False when it was there already (nothing to audit)."""
        if self.deleted_at is not None:
            return False
        self.deleted_at, self.deleted_by_id = utcnow(), actor_id
        return True

    def untrash(self) -> bool:
        """Take out of the trash; False when it was not in it."""
        if self.deleted_at is None:
            return False
        self.deleted_at = self.deleted_by_id = None
        return True


class Lifecycle(enum.StrEnum):
    LEAD = "lead"
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    FORMER = "former_customer"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"former_customer": "Former customer"}.get(self.value, self.value.title())


contact_tag = Table(
    "contact_tag",
    db.metadata,
    Column("contact_id", ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)

company_tag = Table(
    "company_tag",
    db.metadata,
    Column("company_id", ForeignKey("company.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(TeamOwned, Timestamps, db.Model):
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))  # stored lower-case


class Address:
    street: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(100))

    @property
    def address_line(self) -> str:
        parts = [
            self.street,
            self.postal_code and f"{self.postal_code} {self.city or ''}".strip() or self.city,
            self.region,
            self.country,
        ]
        return ", ".join(p for p in parts if p)


class Company(TeamOwned, Timestamps, SoftDelete, Address, db.Model):
    __table_args__ = (
        Index("ix_company_team_sort", "team_id", "sort_name", "id"),
        Index("ix_company_team_domain", "team_id", "domain"),
        Index("ix_company_team_owner", "team_id", "owner_id", "sort_name", "id"),
        Index("ix_company_team_updated", "team_id", "updated_at", "id"),  # API sync
        Index("uq_company_external", "team_id", "external_source", "external_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sort_name: Mapped[str] = mapped_column(String(200))  # lower-cased name, for sort and prefix
    domain: Mapped[str | None] = mapped_column(String(253))  # lower-case, no www.
    industry: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[str | None] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    website: Mapped[str | None] = mapped_column(String(300))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The record's id in the product it was imported from ("HubSpot", "12345"): a later file
    # links to it, and importing the same file again finds it instead of adding it twice.
    external_source: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(100))

    owner = relationship("User", foreign_keys=[owner_id])
    tags: Mapped[list[Tag]] = relationship(secondary=company_tag, order_by=Tag.name)
    contacts: Mapped[list[Contact]] = relationship(back_populates="company")


class Contact(TeamOwned, Timestamps, SoftDelete, Address, db.Model):
    __table_args__ = (
        Index("ix_contact_team_sort", "team_id", "sort_name", "id"),
        Index("ix_contact_team_owner", "team_id", "owner_id", "sort_name", "id"),
        Index("ix_contact_team_stage", "team_id", "lifecycle", "sort_name", "id"),
        Index("ix_contact_team_company", "team_id", "company_id", "sort_name", "id"),
        Index("ix_contact_team_activity", "team_id", "last_activity_at", "id"),
        Index("ix_contact_team_created", "team_id", "created_at", "id"),
        Index("ix_contact_team_updated", "team_id", "updated_at", "id"),  # API sync
        # As-you-type search by last name ("lovelace" finds Ada Lovelace).
        Index("ix_contact_team_last", "team_id", text("lower(last_name)")),
        Index("uq_contact_external", "team_id", "external_source", "external_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    sort_name: Mapped[str] = mapped_column(String(201))  # lower-cased "first last"
    title: Mapped[str | None] = mapped_column(String(150))
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("company.id", ondelete="SET NULL"), index=True
    )
    website: Mapped[str | None] = mapped_column(String(300))
    social: Mapped[dict] = mapped_column(JSON, default=dict)  # {"linkedin": url, "x": url, …}
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    lifecycle: Mapped[Lifecycle] = mapped_column(str_enum(Lifecycle, 24), default=Lifecycle.LEAD)
    source: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Email out: when Rapport last mailed them, when they last answered, when they opted out.
    last_contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # As on Company: the id this person had in the product they were imported from.
    external_source: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(100))

    owner = relationship("User", foreign_keys=[owner_id])
    company: Mapped[Company | None] = relationship(back_populates="contacts")
    emails: Mapped[list[ContactEmail]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="ContactEmail.position"
    )
    phones: Mapped[list[ContactPhone]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="ContactPhone.position"
    )
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tag, order_by=Tag.name)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or (
            self.emails[0].email if self.emails else "(no name)"
        )

    @property
    def primary_email(self) -> str | None:
        return self.emails[0].email if self.emails else None

    @property
    def primary_phone(self) -> str | None:
        return self.phones[0].e164 if self.phones else None


class ContactEmail(TeamOwned, db.Model):
    __tablename__ = "contact_email"
    # One address belongs to one contact per team: the key for email-in matching and dedupe.
    __table_args__ = (UniqueConstraint("team_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))  # lower-cased
    label: Mapped[str] = mapped_column(String(30), default="work")
    position: Mapped[int] = mapped_column(default=0)
    # A hard bounce (a DSN through email-in) marks the address; bulk and sequences skip it.
    bouncing_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    contact: Mapped[Contact] = relationship(back_populates="emails")


class ContactPhone(TeamOwned, db.Model):
    __tablename__ = "contact_phone"
    __table_args__ = (Index("ix_contact_phone_team_e164", "team_id", "e164"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), index=True
    )
    e164: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(30), default="mobile")
    position: Mapped[int] = mapped_column(default=0)

    contact: Mapped[Contact] = relationship(back_populates="phones")
