"""CSV and vCard import, first steps: store an upload with its mapping (the team's remembered
one for these headers, else the recognised product's, else a guess), preview it, confirm the
mapping (remembered for the next file like it) and queue the job. The job itself is in
`runner`, undoing it in `revert`; exports are in `export`."""

from __future__ import annotations

import csv
import itertools

from sqlalchemy import delete, select

from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.imports import columns, profiles, vcards
from crm.kernel import csvio
from crm.models import DuplicatePolicy, ImportChange, ImportJob, ImportMapping, ImportStatus
from crm.queue import enqueue

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
NAME_FIELDS = {"first_name", "last_name", "full_name", "email", "email2", "email_home"}


def create_import(
    team_id: int, user_id: int | None, filename: str, raw: bytes, kind: str = "contacts"
) -> ImportJob:
    """Store an upload with its sniffed encoding, delimiter and a guessed mapping. Commits.
    `kind`: what each row is, "contacts" or "companies" (an address book is contacts)."""
    if kind not in columns.KINDS:
        raise Invalid("Choose what the file holds.", field="kind")
    if not raw.strip():
        raise Invalid("That file is empty.", field="file")
    if len(raw) > MAX_BYTES:
        raise Invalid(f"Files up to {MAX_BYTES // 1024 // 1024} MB can be imported.", "file")
    try:
        text, encoding = csvio.decode(raw)
        if vcards.is_vcard(filename, text):
            # An address book becomes a CSV of one row per card: the same pipeline from here.
            text, delimiter, kind = vcards.to_csv(text), ",", "contacts"
        else:
            delimiter = csvio.sniff_delimiter(text)
        header, rows = csvio.read(text, delimiter)
    except (csvio.Unreadable, csv.Error, vcards.Unreadable) as error:
        raise Invalid(str(error), field="file") from None
    if len(rows) > MAX_ROWS:
        raise Invalid(f"Up to {MAX_ROWS:,} rows per file; split it and import each part.", "file")
    detection = profiles.detect(header, kind)
    remembered = remembered_mapping(team_id, header, kind)
    job = ImportJob(
        team_id=team_id,
        user_id=user_id,
        filename=(filename or "upload.csv")[:255],
        encoding=encoding,
        delimiter=delimiter,
        content=text,
        mapping=remembered if remembered is not None else detection.mapping,
        profile=detection.product,
        kind=kind,
        total_rows=len(rows),
        errors=[],
        sample=[],
    )
    db.session.add(job)
    db.session.commit()
    return job


def remembered_mapping(team_id: int, header: list[str], kind: str = "contacts") -> dict | None:
    """The mapping this team confirmed last for a file of this kind with this header row."""
    return db.session.scalar(
        select(ImportMapping.mapping).where(
            ImportMapping.team_id == team_id,
            ImportMapping.fingerprint == columns.fingerprint(header, kind),
        )
    )


def _remember(job: ImportJob, header: list[str], mapping: dict) -> None:
    key = columns.fingerprint(header, job.kind)
    row = db.session.scalar(
        select(ImportMapping).where(
            ImportMapping.team_id == job.team_id, ImportMapping.fingerprint == key
        )
    )
    if row is None:
        db.session.add(ImportMapping(team_id=job.team_id, fingerprint=key, mapping=mapping))
    else:
        row.mapping = mapping


def valid_target(target: str, width: int, kind: str = "contacts") -> bool:
    """A column may fill a field, a contact custom field (cf_<key>, checked per row by the
    runner), or be the type column of another column of the file."""
    if kind != "contacts":
        return target in columns.KINDS[kind]
    if target in columns.FIELDS or target.startswith("cf_"):
        return True
    match = columns.TYPE_OF.match(target)
    return bool(match) and int(match.group(1)) < width


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
    header, _ = preview(job, 0)
    mapping = {k: v for k, v in mapping.items() if valid_target(v, len(header), job.kind)}
    fields = list(mapping.values())
    once = [f for f in fields if f not in columns.MULTI and not columns.TYPE_OF.match(f)]
    if duplicates := {f for f in once if once.count(f) > 1}:
        raise Invalid(f"Map each field once ({', '.join(sorted(duplicates))} is used twice).")
    if job.kind == "companies" and "name" not in fields:
        raise Invalid("Map the column with the company's name.")
    if job.kind == "notes" and "body" not in fields:
        raise Invalid("Map the column with the note's text.")
    if job.kind == "notes" and not {f for f in fields if f.startswith(("contact", "company"))}:
        raise Invalid("Map a column that names the note's contact or company.")
    if job.kind == "contacts" and not NAME_FIELDS & set(fields):
        raise Invalid("Map at least a name or an email column.")
    _remember(job, header, mapping)
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
