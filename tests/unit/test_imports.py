"""CSV import services: decoding, mapping, the messy file, dry run, revert, export, vCard."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from crm.contacts import services as contacts_services
from crm.contacts.export import EXPORT_HEADER, export_rows
from crm.contacts.queries import ContactFilters
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.imports import columns, export, revert, runner, services
from crm.kernel import csvio
from crm.models import (
    Activity,
    AuditEvent,
    Company,
    Contact,
    ContactEmail,
    Deal,
    ImportJob,
    ImportStatus,
    Lifecycle,
    Tag,
    Task,
)
from tests import factories

MESSY = (
    "First name;Last name;E-mail;Phone;Company;Tags;Notes\r\n"
    'José;Müller;jose@example.com;+49 30 1234567;Café Crème GmbH;vip, berlin;"Met at the fair\r\n'
    'second line; with a semicolon"\r\n'
    "\r\n"
    "Bad;Email;not-an-email;;;;\r\n"
    "Zoë;Ångström;zoe@example.com;;;;\r\n"
    ";;;;;;\r\n"
    "Existing;Person;existing@example.com;;;newtag;Updated note\r\n"
    "Renée;Dupont;renee@example.com;(555) 123-4567;Café Crème GmbH;;\r\n"
    "\r\n"
)


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def _count(model, team) -> int:
    return db.session.scalar(
        select(func.count()).select_from(model).where(model.team_id == team.id)
    )


def _import(team, owner, raw: bytes, policy="skip", dry_run=False, run_jobs=None):
    job = services.create_import(team.id, owner.id, "contacts.csv", raw)
    services.start(job, job.mapping, policy, dry_run)
    run_jobs()
    db.session.expire_all()
    return db.session.get(ImportJob, job.id)


# --- Reading (decoding and delimiters: tests/unit/test_kernel_csvio.py) -------------------


def test_guess_mapping_from_headers():
    mapping = columns.guess_mapping(
        ["First Name", "Surname", "E-mail", "Mobile", "Zip", "Whatever"]
    )
    assert mapping == {
        "0": "first_name",
        "1": "last_name",
        "2": "email",
        "3": "phone2",
        "4": "postal_code",
    }


def test_an_unreadable_upload_is_refused(team, owner):
    with pytest.raises(Invalid):
        services.create_import(team.id, owner.id, "x.csv", b"")
    with pytest.raises(Invalid):
        services.create_import(team.id, owner.id, "x.xlsx", b"PK\x03\x04\x00\x00binary")


# --- The messy file -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_messy_csv_import_counts_exactly(team, owner, run_jobs, encoding):
    factories.make_contact(
        team,
        first_name="Existing",
        last_name="Person",
        email="existing@example.com",
        notes="Old note",
    )
    job = _import(team, owner, MESSY.encode(encoding), "skip", run_jobs=run_jobs)

    assert job.encoding == ("utf-8" if encoding == "utf-8-sig" else "cp1252")
    assert job.delimiter == ";"
    assert job.status == ImportStatus.DONE
    assert job.total_rows == 5  # blank lines and empty records are not rows
    assert (job.created_count, job.updated_count, job.skipped_count, job.error_count) == (
        3,
        0,
        1,
        1,
    )
    assert job.errors[0]["row"] == 4 and "not-an-email" in job.errors[0]["error"]
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(ContactEmail)
            .where(ContactEmail.email.like("not-an-email%"))
        )
        == 0
    )
    assert not db.session.scalars(select(Contact).where(Contact.first_name == "Bad")).all()

    jose = db.session.scalars(select(Contact).where(Contact.first_name == "José")).one()
    assert jose.last_name == "Müller"
    assert jose.notes == "Met at the fair\nsecond line; with a semicolon"
    assert jose.phones[0].e164 == "+49301234567"
    assert jose.company.name == "Café Crème GmbH"
    assert [t.name for t in jose.tags] == ["berlin", "vip"]
    renee = db.session.scalars(select(Contact).where(Contact.first_name == "Renée")).one()
    assert renee.company_id == jose.company_id  # one company, found by name
    assert renee.phones[0].e164 == "+15551234567"
    assert _count(Company, team) == 1
    existing = db.session.scalars(select(Contact).where(Contact.first_name == "Existing")).one()
    assert existing.notes == "Old note"  # skipped: untouched
    report = list(csv.reader(io.StringIO("".join(csvio.write_rows(*runner.error_report(job))))))
    report[0][0] = report[0][0].removeprefix("\ufeff")
    assert report[0][:3] == ["row", "error", "First name"]
    assert report[1][0] == "4" and report[1][4] == "not-an-email"


def test_update_policy_fills_in_the_existing_contact(team, owner, run_jobs):
    existing = factories.make_contact(
        team,
        first_name="Existing",
        last_name="Person",
        email="existing@example.com",
        notes="Old note",
    )
    job = _import(team, owner, MESSY.encode(), "update", run_jobs=run_jobs)
    assert (job.created_count, job.updated_count, job.skipped_count, job.error_count) == (
        3,
        1,
        0,
        1,
    )
    db.session.refresh(existing)
    assert existing.notes == "Updated note"
    assert [t.name for t in existing.tags] == ["newtag"]
    assert db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == existing.id, AuditEvent.action == "update")
    ).one().changes["Notes"] == ["Old note", "Updated note"]  # the forms' audit format


def test_create_policy_refuses_a_second_owner_of_an_email(team, owner, run_jobs):
    factories.make_contact(
        team, first_name="Existing", last_name="Person", email="existing@example.com"
    )
    job = _import(team, owner, MESSY.encode(), "create", run_jobs=run_jobs)
    assert (job.created_count, job.error_count) == (3, 2)
    assert "existing@example.com already belongs to" in job.errors[1]["error"]


def test_a_row_that_fails_while_writing_writes_nothing(team, owner, run_jobs, monkeypatch):
    from crm.kernel import tags

    real = tags.find_or_create  # rows are written through the contacts services

    def explode(team_id, names):
        if "vip" in names:
            raise RuntimeError("disk on fire")
        return real(team_id, names)

    monkeypatch.setattr(tags, "find_or_create", explode)
    job = _import(team, owner, MESSY.encode(), "skip", run_jobs=run_jobs)
    assert (job.created_count, job.error_count) == (3, 2)  # Zoë, Existing, Renée
    assert "disk on fire" in job.errors[0]["error"]
    assert not db.session.scalars(select(Contact).where(Contact.first_name == "José")).all()
    assert not db.session.scalars(
        select(ContactEmail).where(ContactEmail.email == "jose@example.com")
    ).all()
    # The company was created only for José's row: it went with the rolled-back savepoint…
    # …but Renée's row created it again, so exactly one exists.
    assert _count(Company, team) == 1


def test_duplicates_inside_the_file_are_found(team, owner, run_jobs):
    raw = b"name,email\nAnn Lee,ann@example.com\nAnn Lee,ANN@example.com\n"
    job = _import(team, owner, raw, "skip", run_jobs=run_jobs)
    assert (job.created_count, job.skipped_count) == (1, 1)
    dry = _import(
        team, owner, raw.replace(b"ann@", b"bob@"), "skip", dry_run=True, run_jobs=run_jobs
    )
    assert (dry.created_count, dry.skipped_count) == (1, 1)


# --- Dry run and revert ---------------------------------------------------------------------


def test_dry_run_writes_nothing_and_reports_what_would_happen(team, owner, run_jobs):
    factories.make_contact(
        team, first_name="Existing", last_name="Person", email="existing@example.com"
    )
    contacts, companies, tags = _count(Contact, team), _count(Company, team), _count(Tag, team)
    job = _import(team, owner, MESSY.encode(), "update", dry_run=True, run_jobs=run_jobs)
    assert job.status == ImportStatus.DONE and job.dry_run
    assert (job.created_count, job.updated_count, job.skipped_count, job.error_count) == (
        3,
        1,
        0,
        1,
    )
    assert (_count(Contact, team), _count(Company, team), _count(Tag, team)) == (
        contacts,
        companies,
        tags,
    )
    assert [s["action"] for s in job.sample] == [
        "created",
        "error",
        "created",
        "updated",
        "created",
    ]
    # …and the same import can then run for real.
    services.start(job, job.mapping, "update", False)
    run_jobs()
    db.session.refresh(job)
    assert (job.created_count, job.updated_count, job.dry_run) == (3, 1, False)
    assert _count(Contact, team) == contacts + 3


def _contact_counts(counts: dict) -> dict:
    return {key: counts[key] for key in ("removed", "trashed", "restored")}


def test_revert_restores_earlier_values_and_removes_created_records(team, owner, run_jobs):
    existing = factories.make_contact(
        team,
        first_name="Existing",
        last_name="Person",
        email="existing@example.com",
        notes="Old note",
        lifecycle=Lifecycle.CUSTOMER,
    )
    old_tag = Tag(team_id=team.id, name="old")
    existing.tags = [old_tag]
    db.session.commit()
    before_contacts = _count(Contact, team)
    job = _import(team, owner, MESSY.encode(), "update", run_jobs=run_jobs)
    db.session.refresh(existing)
    assert existing.notes == "Updated note" and len(existing.tags) == 2

    counts = revert.revert(job, owner.id)

    assert _contact_counts(counts) == {"removed": 3, "trashed": 0, "restored": 1}
    assert counts["kept"] == [] and counts["companies_trashed"] == 0
    db.session.expire_all()
    assert _count(Contact, team) == before_contacts
    assert _count(Company, team) == 0
    existing = db.session.get(Contact, existing.id)
    assert existing.notes == "Old note"
    assert existing.lifecycle == Lifecycle.CUSTOMER
    assert [t.name for t in existing.tags] == ["old"]
    assert [e.email for e in existing.emails] == ["existing@example.com"]
    assert db.session.get(ImportJob, job.id).status == ImportStatus.REVERTED
    with pytest.raises(Conflict):
        revert.revert(db.session.get(ImportJob, job.id), owner.id)


def test_imported_contacts_go_through_the_contact_services(team, owner, run_jobs):
    """The same rules as the form: owner defaults to the importer, E.164 phones, an audit entry
    on the timeline; a revert removes the contact and that entry (it is not new history)."""
    from crm.models import Activity, ActivityKind

    raw = b"name,email,phone\nAnn Lee,Ann@Example.com,(415) 555-0100\n"
    job = _import(team, owner, raw, run_jobs=run_jobs)
    ann = db.session.scalars(select(Contact).where(Contact.first_name == "Ann")).one()
    assert ann.owner_id == owner.id
    assert [e.email for e in ann.emails] == ["ann@example.com"]
    assert [p.e164 for p in ann.phones] == ["+14155550100"]
    entries = db.session.scalars(
        select(Activity).where(Activity.team_id == team.id, Activity.kind == ActivityKind.SYSTEM)
    ).all()
    assert [a.body for a in entries] == ["created this record"]
    counts = revert.revert(job, owner.id)
    assert _contact_counts(counts) == {"removed": 1, "trashed": 0, "restored": 0}
    assert _count(Contact, team) == 0
    assert not db.session.scalars(select(Activity).where(Activity.team_id == team.id)).all()


def test_revert_keeps_created_contacts_with_new_history_in_the_trash(team, owner, run_jobs):
    job = _import(team, owner, b"name,email\nAnn Lee,ann@example.com\n", run_jobs=run_jobs)
    ann = db.session.scalars(select(Contact).where(Contact.first_name == "Ann")).one()
    factories.make_activity(team, contacts=[ann])
    counts = revert.revert(job, owner.id)
    assert _contact_counts(counts) == {"removed": 0, "trashed": 1, "restored": 0}
    db.session.refresh(ann)
    assert ann.deleted_at is not None


def test_revert_trashes_created_companies_used_since_and_removes_the_others(team, owner, run_jobs):
    raw = b"name,email,company\nAnn Lee,ann@example.com,Used Co\nBo Ray,bo@example.com,Idle Co\n"
    job = _import(team, owner, raw, run_jobs=run_jobs)
    used = db.session.scalars(select(Company).where(Company.name == "Used Co")).one()
    note = factories.make_activity(team, contacts=[], company_id=used.id, body="Call notes")
    deal = factories.make_deal(team, company_id=used.id)
    task = factories.make_task(team, company_id=used.id)

    counts = revert.revert(job, owner.id)

    assert (counts["companies_trashed"], counts["companies_removed"]) == (1, 1)
    db.session.expire_all()
    assert db.session.get(Company, used.id).deleted_at is not None  # in the trash, restorable
    assert db.session.scalars(select(Company).where(Company.name == "Idle Co")).first() is None
    assert db.session.get(Activity, note.id).company_id == used.id
    assert db.session.get(Deal, deal.id).company_id == used.id
    assert db.session.get(Task, task.id).company_id == used.id


def test_revert_keeps_a_created_company_that_later_contacts_work_at(team, owner, run_jobs):
    job = _import(team, owner, b"name,company\nAnn Lee,Kept Co\n", run_jobs=run_jobs)
    company = db.session.scalars(select(Company).where(Company.name == "Kept Co")).one()
    factories.make_contact(team, first_name="Later", company_id=company.id)
    counts = revert.revert(job, owner.id)
    assert (counts["companies_trashed"], counts["companies_removed"]) == (0, 0)
    db.session.expire_all()
    assert db.session.get(Company, company.id).deleted_at is None


def test_revert_keeps_edits_made_after_the_import_and_says_which(team, owner, run_jobs):
    existing = factories.make_contact(
        team, first_name="Ann", last_name="Lee", email="ann@example.com", title=None
    )
    raw = b"name,email,title,city,phone,tags\nAnn Lee,ann@example.com,CTO,Oslo,(415) 555-0100,vip\n"
    job = _import(team, owner, raw, "update", run_jobs=run_jobs)
    db.session.refresh(existing)
    assert (existing.title, existing.city) == ("CTO", "Oslo")
    existing.title = "CEO"  # edited after the import
    contacts_services.update_contact(
        existing, owner.id, {"phones": [{"phone": "(415) 555-0100"}, {"phone": "(415) 555-0199"}]}
    )

    counts = revert.revert(job, owner.id)

    assert counts["kept"] == [{"id": existing.id, "name": "Ann Lee", "fields": ["Title"]}]
    db.session.expire_all()
    existing = db.session.get(Contact, existing.id)
    assert existing.title == "CEO" and existing.city is None
    assert [p.e164 for p in existing.phones] == ["+14155550199"]  # the later one stays
    assert existing.tags == []


def test_start_checks_the_mapping(team, owner):
    job = services.create_import(team.id, owner.id, "x.csv", b"a,b\n1,2\n")
    with pytest.raises(Invalid):
        services.start(job, {"0": "title"}, "skip", False)
    with pytest.raises(Invalid):
        services.start(job, {"0": "first_name", "1": "first_name"}, "skip", False)
    # A type column pairs with a column of the file; anything else is not a target.
    assert services.valid_target("type_of:1", 2) and not services.valid_target("type_of:7", 2)


# --- Export ---------------------------------------------------------------------------------


def test_export_neutralizes_formulas(team, owner):
    factories.make_contact(
        team,
        first_name='=HYPERLINK("http://evil")',
        last_name="+1+1",
        title="-2+3",
        notes="@SUM(A1)",
        email="safe@example.com",
    )
    text = "".join(csvio.write_rows(EXPORT_HEADER, export_rows(team.id, ContactFilters())))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["First name", "Last name", "Email"]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["First name"] == '\'=HYPERLINK("http://evil")'
    assert row["Last name"] == "'+1+1"
    assert row["Title"] == "'-2+3"
    assert row["Notes"] == "'@SUM(A1)"
    assert row["Email"] == "safe@example.com"


def test_export_follows_the_filters_and_stays_in_the_team(team, owner):
    other = factories.team_of(factories.make_user())
    factories.make_contact(other, first_name="Stranger")
    tag = Tag(team_id=team.id, name="vip")
    factories.make_contact(team, first_name="Alice", lifecycle=Lifecycle.CUSTOMER).tags = [tag]
    factories.make_contact(team, first_name="Bob")
    db.session.commit()

    def names(**filters):
        return [r[0] for r in export_rows(team.id, ContactFilters(**filters))]

    assert names() == ["Alice", "Bob"]
    assert names(tag=tag.id) == ["Alice"]
    assert names(stage="customer") == ["Alice"]
    assert names(q="bo") == ["Bob"]
    assert names(sort="newest") == ["Bob", "Alice"]


def test_the_error_report_writes_every_cell_as_text_header_included(
    logged_in, team, owner, run_jobs
):
    raw = b'Name,=HYPERLINK("http://evil"),E-mail\nAnn,=1+1,not-an-email\n'
    job = services.create_import(team.id, owner.id, "x.csv", raw)
    services.start(job, {"0": "full_name", "2": "email"}, "skip", False)
    run_jobs()
    text = logged_in.get(f"/contacts/import/{job.id}/errors.csv").get_data(as_text=True)
    header, row = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert header == ["row", "error", "Name", '\'=HYPERLINK("http://evil")', "E-mail"]
    assert row[2:] == ["Ann", "'=1+1", "not-an-email"]


def test_vcard(team):
    company = factories.make_company(team, name="Acme, Inc.")
    contact = factories.make_contact(
        team,
        first_name="José",
        last_name="Müller",
        email="jose@example.com",
        phone="+4930123456",
        company=company,
        title="CTO",
        city="Berlin",
        notes="Line one\nline two; more",
    )
    card = export.vcard(contact)
    assert card.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n")
    assert "N:Müller;José;;;\r\n" in card
    assert "FN:José Müller\r\n" in card
    assert "ORG:Acme\\, Inc.\r\n" in card
    assert "EMAIL;TYPE=INTERNET,WORK:jose@example.com\r\n" in card
    assert "TEL;TYPE=CELL:+4930123456\r\n" in card
    assert "NOTE:Line one\\nline two\\; more\r\n" in card
    assert card.endswith("END:VCARD\r\n")
    assert all(len(line.encode()) <= 75 for line in card.split("\r\n"))


def test_vcard_values_cannot_add_lines_of_their_own(team):
    import vobject

    from crm.models import ContactEmail

    contact = factories.make_contact(
        team,
        first_name="Eve\r\nEMAIL:first@evil.example",
        last_name="张伟",
        email="eve@example.com",
        website="https://a.example\r\nEMAIL:second@evil.example",
        social={"x": "https://x.com/eve\nTEL:+15550000000"},
    )
    contact.emails.append(
        ContactEmail(team_id=team.id, email="eve2@example.com", label="work\r\nEMAIL:third@e.x")
    )
    db.session.commit()
    card = export.vcard(contact)
    lines = card.split("\r\n")
    assert not [
        line for line in lines if "evil" in line and not line.startswith(("FN", "N", "URL"))
    ]
    assert not [line for line in lines if line.startswith("EMAIL:") or line.startswith("TEL:+1555")]
    parsed = vobject.readOne(card)
    assert sorted(e.value for e in parsed.contents["email"]) == [
        "eve2@example.com",
        "eve@example.com",
    ]
    assert "https://a.example\nEMAIL:second@evil.example" in [
        u.value for u in parsed.contents["url"]
    ]
    assert parsed.n.value.family == "张伟"
    assert all(len(line.encode()) <= 75 for line in lines)


# --- Failures ---------------------------------------------------------------------------------


def test_a_row_that_raises_becomes_an_error_row_and_the_rest_are_imported(
    team, owner, run_jobs, monkeypatch
):
    real = runner.find_duplicates

    def find_duplicates(team_id, data, limit=5):  # a bug that only this row's data finds
        if data.get("first_name") == "Crash":
            raise RuntimeError("unexpected data")
        return real(team_id, data, limit=limit)

    monkeypatch.setattr(runner, "find_duplicates", find_duplicates)
    raw = (
        b"name,email\nAnn Lee,ann@example.com\nCrash Test,crash@example.com\nBo Ray,bo@x.example\n"
    )
    job = _import(team, owner, raw, run_jobs=run_jobs)
    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.error_count) == (2, 1)
    assert job.errors[0]["row"] == 3 and "unexpected data" in job.errors[0]["error"]
    assert "Crash" not in [c.first_name for c in db.session.scalars(select(Contact))]


def test_a_timeout_is_not_a_bad_row_and_the_sweep_resumes_the_import(
    team, owner, run_jobs, monkeypatch
):
    from rq.timeouts import JobTimeoutException

    real, calls = runner.writer.create, []

    def create(team_id, actor_id, data):
        calls.append(data.get("first_name"))
        if data.get("first_name") == "Bo" and calls.count("Bo") == 1:
            raise JobTimeoutException("Task exceeded maximum timeout value (180 seconds)")
        return real(team_id, actor_id, data)

    monkeypatch.setattr(runner.writer, "create", create)
    raw = b"name,email\nAnn Lee,ann@example.com\nBo Ray,bo@x.example\n"
    job = services.create_import(team.id, owner.id, "contacts.csv", raw)
    services.start(job, job.mapping, "skip", False)
    with pytest.raises(JobTimeoutException):
        runner.run(job.id)
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert job.status == ImportStatus.RUNNING and job.error_count == 0 and job.failure is None
    job.updated_at = job.updated_at - runner.STALE * 2  # the worker went silent
    db.session.commit()
    assert runner.requeue_imports() == 1
    run_jobs()
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert job.status == ImportStatus.DONE and job.error_count == 0
    names = sorted(c.first_name for c in db.session.scalars(select(Contact)))
    assert names == ["Ann", "Bo"]  # each once, nothing blamed on a row


def test_a_failed_import_keeps_its_reason(team, owner, run_jobs):
    job = services.create_import(team.id, owner.id, "contacts.csv", b"name\nAnn\n")
    services.start(job, job.mapping, "skip", False)
    job.content = ""  # the stored file went missing
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert job.status == ImportStatus.FAILED and job.failure == "The file is empty."
