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
from crm.imports import columns, links, writer
from crm.imports import companies as company_rows
from crm.imports import notes as note_rows
from crm.kernel import csvio, custom_fields, normalize, restore, statistics, tags, work
from crm.kernel.fields import phone_region
from crm.models import (
    Company,
    Contact,
    ContactEmail,
    DuplicatePolicy,
    ImportChange,
    ImportJob,
    ImportStatus,
    Team,
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


MULTI_VALUE = " ::: "  # how Google Contacts puts several values in one cell


def _cell(cells: list[str], index) -> str:
    i = int(index)
    return cells[i].strip().replace("\r\n", "\n").replace("\r", "\n") if i < len(cells) else ""


def row_data(cells: list[str], mapping: dict[str, str]) -> dict:
    """A row's cells as contact data (the contact services' keys, plus `company` by name and
    `owner` as written in the file). Emails and phones may come from several columns, each
    labelled by its field or by the type column paired with it (columns.TYPE_OF)."""
    raw: dict[str, str] = {}
    emails: list[dict] = []
    phones: list[dict] = []
    types = {
        int(m.group(1)): _cell(cells, index)
        for index, field in mapping.items()
        if (m := columns.TYPE_OF.match(field))
    }
    for index, field in sorted(mapping.items(), key=lambda item: int(item[0])):
        value = _cell(cells, index)
        if not value or columns.TYPE_OF.match(field):
            continue
        if field in columns.MULTI:
            kind, default = columns.MULTI[field]
            label = columns.label(kind, types.get(int(index)), default)
            target = emails if kind == "email" else phones
            for part in value.split(MULTI_VALUE):
                if part.strip() and part.strip() not in {t[kind] for t in target}:
                    target.append({kind: part.strip(), "label": label})
        else:
            raw[field] = value
    data: dict = {}
    for key in writer.SCALARS:
        if key in raw and key not in ("company_id", "owner_id"):
            data[key] = raw[key]
    if "full_name" in raw and not (raw.get("first_name") or raw.get("last_name")):
        first, _, last = raw["full_name"].rpartition(" ")
        data["first_name"], data["last_name"] = (first, last) if first else (last, "")
    data["emails"] = emails
    data["phones"] = phones
    if raw.get("company"):
        data["company"] = raw["company"]
    for key in ("owner", "external_id", "company_external_id"):
        if raw.get(key):
            data[key] = raw[key]
    if raw.get("tags"):
        # Google's groups: "* myContacts ::: Friends" (the starred system groups are not tags).
        names = [t.strip() for t in raw["tags"].replace(MULTI_VALUE, ",").split(",")]
        system = ("mycontacts", "starred")
        raw["tags"] = ",".join(
            n for n in names if n and not n.startswith("* ") and n.lower() not in system
        )
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
    and the companies and owners looked up so far (most files name a few of each many times)."""

    def __init__(self, region: str = "US"):
        self.keys: dict[str, str] = {}
        self.companies: dict[str, int | None] = {}
        self.owners: dict[str, int | None] = {}
        self.region = region  # where a phone without a country code is read

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
    memory = _Memory(region(job.team_id))
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


def region(team_id: int) -> str:
    """The team's default country (settings), else the app's PHONE_REGION."""
    return phone_region(db.session.get(Team, team_id))


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
    if job.kind == "companies":
        return company_rows.one_row(job, number, cells, memory)
    if job.kind == "notes":
        return note_rows.one_row(job, number, cells, memory)
    raw = row_data(cells, job.mapping)
    custom = raw.pop("custom", {})
    owner = raw.pop("owner", None)
    external_id = raw.pop("external_id", None)
    company_external_id = raw.pop("company_external_id", None)
    try:
        data = writer.clean(raw, memory.region)
        data["custom"] = _custom_values(job.team_id, custom) if custom else []
    except (normalize.BadValue, Invalid) as error:
        name = f"{raw.get('first_name', '')} {raw.get('last_name', '')}".strip()
        message = error.message if isinstance(error, Invalid) else str(error)
        return {"row": number, "action": "error", "error": message, "name": name}
    name = _display_name(data)
    note = None
    if owner:
        if (owner_id := links.owner_id(job.team_id, owner, memory.owners)) is not None:
            data["owner_id"] = owner_id
        else:
            note = f"Owner “{owner}” is not a member of this team: the importer owns it."
    source = links.external_source(job)
    company_id = None
    if company_external_id:  # the company's id in the same product: a companies file before
        linked = links.external_record(Company, job.team_id, source, company_external_id)
        company_id = linked.id if linked is not None and not linked.deleted_at else None
    company_id = company_id or _company_id(job.team_id, data.get("company"), memory)
    probe = data | ({"company_id": company_id} if company_id else {})
    known = (
        links.external_record(Contact, job.team_id, source, external_id) if external_id else None
    )
    if known is not None and known.deleted_at is None:
        dupes = [known]  # imported before from the same product: the same person
    else:
        dupes = find_duplicates(job.team_id, probe, limit=1)
        if known is None and external_id:
            data["external"] = (source, external_id)
    match = dupes[0].name if dupes else (memory.match(data) if job.dry_run else None)
    outcome = {
        "row": number,
        "name": name,
        "match": match,
        "match_id": dupes[0].id if dupes else None,
    } | ({"note": note} if note else {})
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
    external = data.pop("external", None)
    if company_id:
        data["company_id"] = company_id
    if existing is not None:
        before = writer.update(existing, job.user_id, data)  # what restore() needs to undo it
        updated = ImportChange(
            import_id=job.id,
            row_number=number,
            contact_id=existing.id,
            action="updated",
            before=before,
        )
        db.session.add(updated)
    else:
        contact = writer.create(job.team_id, job.user_id, data)
        if external:
            contact.external_source, contact.external_id = external[0], external[1][:100]
        db.session.add(
            ImportChange(
                import_id=job.id, row_number=number, contact_id=contact.id, action="created"
            )
        )
    db.session.flush()
    record = existing if existing is not None else contact
    touched = [field for field, _ in custom]
    prior = custom_fields.plain(record, touched) if existing is not None and custom else None
    for field, cell in custom:
        custom_fields.write(record, field, cell, job.user_id)
    if prior is not None:  # the revert puts back what this row changed (crm.kernel.restore)
        written = restore.written(prior, custom_fields.plain(record, touched))
        updated.before = {**updated.before, "custom": prior, "custom_written": written}
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
