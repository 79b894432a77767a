"""CSV import, first steps: store an upload with a guessed mapping, preview it, confirm the
mapping and queue the job. The job itself is in `runner`, undoing it in `revert`; exports are in
`export`."""

from __future__ import annotations

import csv
import itertools

from sqlalchemy import delete

from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.imports import columns
from crm.kernel import csvio
from crm.models import DuplicatePolicy, ImportChange, ImportJob, ImportStatus
from crm.queue import enqueue

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
NAME_FIELDS = {"first_name", "last_name", "full_name", "email"}


def create_import(team_id: int, user_id: int | None, filename: str, raw: bytes) -> ImportJob:
    """Store an upload with its sniffed encoding, delimiter and a guessed mapping. Commits."""
    if not raw.strip():
        raise Invalid("That file is empty.", field="file")
    if len(raw) > MAX_BYTES:
        raise Invalid(f"Files up to {MAX_BYTES // 1024 // 1024} MB can be imported.", "file")
    try:
        text, encoding = csvio.decode(raw)
        delimiter = csvio.sniff_delimiter(text)
        header, rows = csvio.read(text, delimiter)
    except (csvio.Unreadable, csv.Error) as error:
        raise Invalid(str(error), field="file") from None
    if len(rows) > MAX_ROWS:
        raise Invalid(f"Up to {MAX_ROWS:,} rows per file; split it and import each part.", "file")
    job = ImportJob(
        team_id=team_id,
        user_id=user_id,
        filename=(filename or "upload.csv")[:255],
        encoding=encoding,
        delimiter=delimiter,
        content=text,
        mapping=columns.guess_mapping(header),
        total_rows=len(rows),
        errors=[],
        sample=[],
    )
    db.session.add(job)
    db.session.commit()
    return job


def preview(job: ImportJob, count: int = 5) -> tuple[list[str], list[list[str]]]:
    records = csvio.rows(job.content, job.delimiter)
    header = next(records, (0, []))[1]
    return [h.strip() for h in header], [cells for _, cells in itertools.islice(records, count)]


def start(job: ImportJob, mapping: dict[str, str], policy: str, dry_run: bool) -> ImportJob:
    """Confirm the mapping and queue the job (a dry run first, or the real thing). Commits."""
    if job.status not in (ImportStatus.MAPPING,) and not (
        job.status == ImportStatus.DONE and job.dry_run
    ):
        raise Conflict("This import has run already.")
    mapping = {k: v for k, v in mapping.items() if v in columns.FIELDS}
    fields = list(mapping.values())
    if duplicates := {f for f in fields if fields.count(f) > 1}:
        raise Invalid(f"Map each field once ({', '.join(sorted(duplicates))} is used twice).")
    if not NAME_FIELDS & set(fields):
        raise Invalid("Map at least a name or an email column.")
    job.mapping = mapping
    job.policy = DuplicatePolicy(policy)
    job.dry_run = dry_run
    job.status = ImportStatus.QUEUED
    job.processed_rows = job.created_count = job.updated_count = 0
    job.skipped_count = job.error_count = 0
    job.errors, job.sample = [], []
    db.session.execute(
        delete(ImportChange).where(ImportChange.import_id == job.id, ImportChange.action == "error")
    )
    job.started_at = job.finished_at = None
    db.session.commit()
    enqueue("jobs.imports.run_import", job.id)
    return job
