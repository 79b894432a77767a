"""What ties an imported row to records Rapport has: the ids of the product it came from
(external_source + external_id on contacts and companies, unique per team and source) and the
member an export names as owner."""

from __future__ import annotations

from sqlalchemy import select

from crm.extensions import db
from crm.kernel import members
from crm.models import ImportJob


def external_source(job: ImportJob) -> str:
    """Whose ids a file's id column holds: the recognised product, else "CSV"."""
    return job.profile or "CSV"


def external_record(model, team_id: int, source: str, external_id: str):
    """The contact or company imported before with this id from `source` (trashed ones too:
    the id stays theirs)."""
    return db.session.scalars(
        select(model).where(
            model.team_id == team_id,
            model.external_source == source,
            model.external_id == external_id.strip()[:100],
        )
    ).first()


def owner_id(team_id: int, text: str, cache: dict[str, int | None]) -> int | None:
    """The member named by email or name (crm.kernel.members.find), looked up once per file."""
    key = text.strip().lower()
    if key not in cache:
        user = members.find(team_id, text)
        cache[key] = user.id if user else None
    return cache[key]
