"""Custom fields: a team's own field definitions, their typed values, and saved list views.

Values are typed rows (one per record and field; a multi select has one row per chosen option)
so that each type sorts and filters on an index of its own column: (field_id, <typed>, record_id).
Adding a field is an INSERT, never DDL. See docs/custom-fields.md for the measurements.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.base import TeamOwned, Timestamps, UTCDateTime

ENTITIES = ("contact", "company", "deal")
TYPES = {
    "text": "Text",
    "long_text": "Long text",
    "number": "Number",
    "money": "Money",
    "date": "Date",
    "checkbox": "Checkbox",
    "select": "Single select",
    "multi_select": "Multi select",
    "url": "URL",
    "email": "Email",
    "phone": "Phone",
    "member": "Member",
}


class CustomField(TeamOwned, Timestamps, db.Model):
    """One field a team added to contacts, companies or deals. `key` never changes (renaming
    changes the label only, so values and saved views keep working)."""

    __tablename__ = "custom_field"
    __table_args__ = (Index("ix_custom_field_team_entity", "team_id", "entity", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    help_text: Mapped[str] = mapped_column(String(200), default="")
    section: Mapped[str] = mapped_column(String(60), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Ordered options of a (multi) select: [{"id": "a1", "label": "Basic"}, …]; the id is stored.
    options: Mapped[list] = mapped_column(JSON, default=list)
    currency: Mapped[str] = mapped_column(String(3), default="")
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def type_label(self) -> str:
        return TYPES.get(self.type, self.type)

    def option_label(self, option_id: str) -> str:
        for option in self.options or ():
            if option["id"] == option_id:
                return option["label"]
        return option_id


class CustomValue(TeamOwned, db.Model):
    """One value of one field on one record (multi select: one row per chosen option)."""

    __tablename__ = "custom_value"
    __table_args__ = (
        Index("ix_custom_value_record", "record_id", "field_id"),
        Index("ix_custom_value_text", "field_id", "text_value", "record_id"),
        Index("ix_custom_value_number", "field_id", "number_value", "record_id"),
        Index("ix_custom_value_date", "field_id", "date_value", "record_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_field.id", ondelete="CASCADE"))
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int] = mapped_column(Integer)
    text_value: Mapped[str | None] = mapped_column(String(500))
    # Long text is not indexed (a btree entry has a size limit on PostgreSQL); it is searched
    # through the Whoosh document of its record instead.
    long_value: Mapped[str | None] = mapped_column(Text)
    number_value: Mapped[float | None] = mapped_column(Float)
    date_value: Mapped[date | None] = mapped_column(Date)


class SavedView(TeamOwned, Timestamps, db.Model):
    """A named list query (filters, sort, columns as its query string), personal or shared."""

    __tablename__ = "saved_view"
    __table_args__ = (Index("ix_saved_view_team_list", "team_id", "list_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_name: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    shared: Mapped[bool] = mapped_column(Boolean, default=False)


class DefaultView(TeamOwned, db.Model):
    """A member's default view of one list."""

    __tablename__ = "default_view"
    __table_args__ = (
        Index("uq_default_view_user_list", "team_id", "user_id", "list_name", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    list_name: Mapped[str] = mapped_column(String(20))
    view_id: Mapped[int] = mapped_column(ForeignKey("saved_view.id", ondelete="CASCADE"))
