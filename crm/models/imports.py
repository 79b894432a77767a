"""CSV imports (with a per-row record of what they changed, so one can be reverted) and merges."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import TeamOwned, Timestamps, UTCDateTime


class ImportStatus(enum.StrEnum):
    MAPPING = "mapping"  # uploaded, columns not confirmed yet
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    REVERTED = "reverted"


class DuplicatePolicy(enum.StrEnum):
    SKIP = "skip"
    UPDATE = "update"
    CREATE = "create"


class ImportJob(TeamOwned, Timestamps, db.Model):
    __tablename__ = "import_job"
    __table_args__ = (Index("ix_import_job_team_created", "team_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    encoding: Mapped[str] = mapped_column(String(20))
    delimiter: Mapped[str] = mapped_column(String(1))
    # The decoded file: the job reads it, the error report quotes its rows.
    content: Mapped[str] = mapped_column(Text, deferred=True)  # not loaded by the progress poll
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)  # {column index: field}
    policy: Mapped[DuplicatePolicy] = mapped_column(
        Enum(
            DuplicatePolicy,
            native_enum=False,
            length=10,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=DuplicatePolicy.SKIP,
    )
    dry_run: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ImportStatus] = mapped_column(
        Enum(
            ImportStatus,
            native_enum=False,
            length=10,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=ImportStatus.MAPPING,
    )
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    # The first errors [{"row": n, "error": "…", "values": [...]}]; all are ImportChange rows.
    errors: Mapped[list] = mapped_column(JSON, default=list)
    # What happened to the first rows ({"row", "action", "name", "match"}): the dry run's answer.
    sample: Mapped[list] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why a failed import stopped, as the page shows it ("The import stopped: …").
    failure: Mapped[str | None] = mapped_column(Text)
    # Where the mapping came from: a product's export ("HubSpot"), "vCard", or "remembered"
    # (this team's own mapping for the same headers); None for a guess from the header words.
    profile: Mapped[str | None] = mapped_column(String(40))
    # What each row is: "contacts" or "companies" (crm.imports.columns.KINDS).
    kind: Mapped[str] = mapped_column(String(20), default="contacts", server_default="contacts")

    user = relationship("User")

    @property
    def percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 100

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.REVERTED)


class ImportMapping(TeamOwned, Timestamps, db.Model):
    """A team's confirmed column mapping, kept for the next file with the same header row."""

    __tablename__ = "import_mapping"
    __table_args__ = (UniqueConstraint("team_id", "fingerprint", name="uq_import_mapping_header"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the normalized header row
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)


class ImportChange(db.Model):
    """What one row of an import did: a contact it created or updated (`before` holds the
    earlier values), a company it created, or its error (`before` holds the row)."""

    __tablename__ = "import_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("import_job.id", ondelete="CASCADE"), index=True
    )
    row_number: Mapped[int] = mapped_column()
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(10))  # created, updated, company, error
    before: Mapped[dict | None] = mapped_column(JSON)


class ContactMerge(TeamOwned, db.Model):
    """A merge of `merged` into `kept`, with what moved, so it can be undone for 30 days."""

    __tablename__ = "contact_merge"
    __table_args__ = (Index("ix_contact_merge_kept", "team_id", "kept_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    kept_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    merged_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    # kept's fields before, the ids of rows moved from merged to kept, links added.
    snapshot: Mapped[dict] = mapped_column(JSON, default=dict)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
