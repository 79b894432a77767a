"""The import job: write every row of a confirmed import (or dry-run it), resumably, one
savepoint per row; the report of the rows that failed; the sweep that re-queues a stalled job."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from rq.exceptions import StopRequested
from rq.timeouts import BaseTimeoutException
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError

from crm.dedupe.services import find_duplicates
from crm.errors import Invalid
from crm.extensions import db
from crm.imports import writer
from crm.kernel import csvio, custom_fields, normalize, statistics, tags, work
from crm.models import (
    Contact,
    ContactEmail,
    DuplicatePolicy,
    ImportChange,
    ImportJob,
    ImportStatus,
    utcnow,
)
from crm.queue import enqueue

log = logging.getLogger(__name__)

PROGRESS_EVERY = 50  # rows between progress commits (also the unit of resumption)
# An import this large may have moved a table's size enough to mislead the planner.
LARGE_IMPORT_ROWS = 1000
SAMPLE_ROWS = 100
STALE = timedelta(minutes=5)  # a running import silent this long lost its worker
# Failures that say nothing about the row or the file: the job ran out of time, the worker is
# stopping, the database went away. The run ends with the job still running, so the sweep
# resumes it from its last progress commit; no row is blamed and the import is not failed.
INTERRUPTIONS = (BaseTimeoutException, StopRequested, OperationalError, InterfaceError)


def row_data(cells: list[str], mapping: dict[str, str]) -> dict:
    """A row's cells as contact data (the contact services' keys, plus `company` by name)."""
    raw: dict[str, str] = {}
    for index, field in mapping.items():
        i = int(index)
        if i < len(cells) and cells[i].strip():
            raw[field] = cells[i].strip().replace("\r\n", "\n").replace("\r", "\n")
    data: dict = {}
    for key in writer.SCALARS:
        if key in raw and key != "company_id":
            data[key] = raw[key]
    if "full_name" in raw and not (raw.get("first_name") or raw.get("last_name")):
        first, _, last = raw["full_name"].rpartition(" ")
        data["first_name"], data["last_name"] = (first, last) if first else (last, "")
    data["emails"] = [
        {"email": raw[k], "label": label}
        for k, label in (("email", "work"), ("email2", "other"))
        if raw.get(k)
    ]
    data["phones"] = [
        {"phone": raw[k], "label": label}
        for k, label in (("phone", "work"), ("phone2", "mobile"))
        if raw.get(k)
    ]
    if raw.get("company"):
        data["company"] = raw["company"]
    if raw.get("tags"):
        data["tags"] = tags.split(raw["tags"], ",;")
    if raw.get("linkedin"):
        data["social"] = {"linkedin": raw["linkedin"]}
    if custom := {k[3:]: v for k, v in raw.items() if k.startswith("cf_")}:
        data["custom"] = custom  # custom field key → the cell, checked by _custom_values()
    return data


def _custom_values(team_id: int, custom: dict) -> list[tuple]:
    """(field, cell) pairs of a row's custom cells, each checked by the field's own parse():
    the dry run reports a bad value like any other (Invalid)."""
    defined = {f.key: f for f in custom_fields.fields_for(team_id, "contact")}
    pairs = []
    for key, cell in custom.items():
        field = defined.get(key)
        if field is not None:
            custom_fields.parse(field, cell, team_id=team_id)
            pairs.append((field, cell))
    return pairs


class _Memory:
    """Emails and phones of earlier rows, so a dry run sees duplicates within the file;
    and the companies looked up so far (most files name a few companies many times)."""

    def __init__(self):
        self.keys: dict[str, str] = {}
        self.companies: dict[str, int | None] = {}

    def match(self, data: dict) -> str | None:
        for key in self._keys(data):
            if key in self.keys:
                return self.keys[key]
        return None

    def add(self, data: dict, name: str) -> None:
        for key in self._keys(data):
            self.keys.setdefault(key, name)

    @staticmethod
    def _keys(data: dict) -> list[str]:
        return [e["email"] for e in data.get("emails", [])] + [
            p["phone"] for p in data.get("phones", [])
        ]


def _display_name(data: dict) -> str:
    name = normalize.sort_name(data.get("first_name"), data.get("last_name"))
    if name:
        return f"{data.get('first_name', '')} {data.get('last_name', '')}".strip()
    return data["emails"][0]["email"] if data.get("emails") else "(no name)"


def run(job_id: int) -> str:
    """The job: process every row not processed yet. Idempotent and resumable.

    Each row is written inside its own savepoint, so a bad row rolls back alone and never
    aborts the rest. Progress is committed every PROGRESS_EVERY rows together with the rows
    it counts, so a crashed run resumes where its last commit ended.
    """
    if not _claim(job_id):
        return "nothing to do"
    job = db.session.get(ImportJob, job_id)
    job.started_at = job.started_at or utcnow()
    db.session.commit()
    memory = _Memory()
    # The first errors are kept on the job for the page; all of them as rows, for the report.
    errors, sample = list(job.errors or []), list(job.sample or [])
    try:
        _, rows = csvio.read(job.content, job.delimiter)
        for index, (number, cells) in enumerate(rows):
            if index < job.processed_rows:
                continue  # done by an earlier, interrupted run
            outcome = _row(job, number, cells, memory)
            if outcome["action"] == "error":
                job.error_count += 1
                item = {"row": number, "error": outcome["error"], "values": cells}
                db.session.add(
                    ImportChange(import_id=job.id, row_number=number, action="error", before=item)
                )
                if len(errors) < SAMPLE_ROWS:
                    errors.append(item)
            else:
                attr = {"created": "created_count", "updated": "updated_count"}
                name = attr.get(outcome["action"], "skipped_count")
                setattr(job, name, getattr(job, name) + 1)
            if len(sample) < SAMPLE_ROWS:
                sample.append(outcome)
            job.processed_rows = index + 1
            if job.processed_rows % PROGRESS_EVERY == 0:
                job.errors, job.sample = list(errors), list(sample)
                db.session.commit()
    except INTERRUPTIONS as error:
        db.session.rollback()  # rows since the last progress commit are done again on resume
        log.warning("import %s interrupted, to be resumed by the sweep: %r", job_id, error)
        raise
    except Exception as error:
        db.session.rollback()
        job = db.session.get(ImportJob, job_id)
        job.status = ImportStatus.FAILED
        job.failure = _reason(error)
        job.finished_at = utcnow()
        db.session.commit()
        log.exception("import %s failed", job_id)
        raise
    job.errors, job.sample = errors, sample
    job.status = ImportStatus.DONE
    job.finished_at = utcnow()
    db.session.commit()
    if job.created_count + job.updated_count >= LARGE_IMPORT_ROWS:
        statistics.optimize()  # only the tables that grew by more than a tenth
    return f"{job.created_count} created, {job.updated_count} updated, {job.skipped_count} skipped"


def _claim(job_id: int) -> bool:
    """Take the job atomically: queued, or running but silent for a while (a dead worker).

    A second copy of the job (re-enqueued by the sweep) finds it claimed and does nothing.
    """
    now = utcnow()
    return work.claim(
        ImportJob,
        job_id,
        (ImportJob.status == ImportStatus.QUEUED)
        | (
            (ImportJob.status == ImportStatus.RUNNING)
            & work.stale(ImportJob.updated_at, STALE, now)
        ),
        values={"status": ImportStatus.RUNNING, "updated_at": now},
    )


def _reason(error: BaseException) -> str:
    """An exception as one line a person can read on the import's page."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]


def _row(job: ImportJob, number: int, cells: list[str], memory: _Memory) -> dict:
    """One row's outcome, in its own savepoint: whatever the row makes fail (a value the
    database refuses, a bug its data finds) rolls back that row alone and becomes its error
    row; only INTERRUPTIONS (and BaseExceptions) end the run."""
    try:
        with db.session.begin_nested():
            return _one_row(job, number, cells, memory)
    except INTERRUPTIONS:
        raise
    except Exception as error:
        log.info("import %s row %s failed: %s", job.id, number, error)
        error_text = "Could not be saved: " + _reason(error)
        return {"row": number, "action": "error", "error": error_text, "name": ""}


def _one_row(job: ImportJob, number: int, cells: list[str], memory: _Memory) -> dict:
    raw = row_data(cells, job.mapping)
    custom = raw.pop("custom", {})
    try:
        data = writer.clean(raw)
        data["custom"] = _custom_values(job.team_id, custom) if custom else []
    except (normalize.BadValue, Invalid) as error:
        name = f"{raw.get('first_name', '')} {raw.get('last_name', '')}".strip()
        message = error.message if isinstance(error, Invalid) else str(error)
        return {"row": number, "action": "error", "error": message, "name": name}
    name = _display_name(data)
    company_id = _company_id(job.team_id, data.get("company"), memory)
    probe = data | ({"company_id": company_id} if company_id else {})
    dupes = find_duplicates(job.team_id, probe, limit=1)
    match = dupes[0].name if dupes else (memory.match(data) if job.dry_run else None)
    outcome = {
        "row": number,
        "name": name,
        "match": match,
        "match_id": dupes[0].id if dupes else None,
    }
    if match and job.policy == DuplicatePolicy.SKIP:
        return outcome | {"action": "skipped"}
    if match and job.policy == DuplicatePolicy.CREATE and (clash := _email_clash(job, data)):
        return outcome | {"action": "error", "error": f"{clash} already belongs to {match}."}
    action = "updated" if match and job.policy == DuplicatePolicy.UPDATE else "created"
    memory.add(data, name)
    if job.dry_run:
        return outcome | {"action": action}
    company = data.get("company")
    written_company_id = _write_row(
        job, number, data, company_id, dupes[0] if dupes and action == "updated" else None
    )
    if company and written_company_id:
        # Remembered only once its row is written (the last step of the row's savepoint):
        # a rolled-back row takes its company along.
        memory.companies[company.strip().lower()] = written_company_id
    return outcome | {"action": action}


def _company_id(team_id: int, name: str | None, memory: _Memory) -> int | None:
    key = (name or "").strip().lower()
    if not key:
        return None
    if memory.companies.get(key) is None:
        memory.companies[key] = writer.company_id_for(team_id, name, create=False)
    return memory.companies[key]


def _email_clash(job: ImportJob, data: dict) -> str | None:
    emails = [e["email"] for e in data.get("emails", [])]
    if not emails:
        return None
    return db.session.scalar(
        select(ContactEmail.email).where(
            ContactEmail.team_id == job.team_id, ContactEmail.email.in_(emails)
        )
    )


def _write_row(
    job: ImportJob, number: int, data: dict, company_id, existing: Contact | None
) -> int | None:
    """Write one row (the caller holds its savepoint); returns the company id it used."""
    if data.get("company") and not company_id:
        company_id = writer.company_id_for(job.team_id, data["company"], actor_id=job.user_id)
        db.session.add(
            ImportChange(
                import_id=job.id,
                row_number=number,
                action="company",
                before={"company_id": company_id},
            )
        )
    data.pop("company", None)
    custom = data.pop("custom", [])
    if company_id:
        data["company_id"] = company_id
    if existing is not None:
        before = writer.update(existing, job.user_id, data)  # what restore() needs to undo it
        db.session.add(
            ImportChange(
                import_id=job.id,
                row_number=number,
                contact_id=existing.id,
                action="updated",
                before=before,
            )
        )
    else:
        contact = writer.create(job.team_id, job.user_id, data)
        db.session.add(
            ImportChange(
                import_id=job.id, row_number=number, contact_id=contact.id, action="created"
            )
        )
    db.session.flush()
    for field, cell in custom:
        custom_fields.write(existing if existing is not None else contact, field, cell, job.user_id)
    db.session.flush()
    return company_id


def error_report(job: ImportJob) -> tuple[list[str], Iterator[list]]:
    """The rows that failed, with the reason first: the header and the rows of a CSV to fix and
    import again (written by crm.kernel.csvio, header included: it is the user's text too)."""
    header, _ = csvio.read(job.content, job.delimiter)
    items = db.session.scalars(
        select(ImportChange.before)
        .where(ImportChange.import_id == job.id, ImportChange.action == "error")
        .order_by(ImportChange.row_number)
    )
    rows = ([item["row"], item["error"], *item["values"]] for item in items)
    return ["row", "error", *header], rows


def requeue_imports() -> int:
    """Imports queued or running with no progress for a while lost their job: queue it again."""
    return work.requeue(
        ImportJob,
        ImportJob.status.in_([ImportStatus.QUEUED, ImportStatus.RUNNING]),
        work.stale(ImportJob.updated_at, STALE, utcnow()),
        enqueue=lambda job_id: enqueue("jobs.imports.run_import", job_id),
    )
