"""The kernel's record rules, seen from every feature that uses them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.imports import services as imports
from crm.kernel import companies, tags
from crm.models import Activity, ActivityKind, AuditEvent, Company
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def _company_audits(team) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.team_id == team.id,
                AuditEvent.entity_type == "company",
                AuditEvent.action == "create",
            )
        )
    )


def test_a_company_found_or_created_by_name_is_created_once_and_audited(team, owner):
    first = companies.find_or_create(team.id, owner.id, "  Initech   Corp ")
    again = companies.find_or_create(team.id, owner.id, "initech corp")
    db.session.commit()
    assert first.id == again.id
    assert first.name == "Initech Corp" and first.owner_id == owner.id
    [event] = _company_audits(team)
    assert (event.entity_id, event.actor_id) == (first.id, owner.id)
    entry = db.session.scalars(select(Activity).where(Activity.company_id == first.id)).one()
    assert entry.kind == ActivityKind.SYSTEM and entry.body == "created this record"


def test_a_company_is_not_created_for_a_blank_name_or_when_only_looking(team, owner):
    assert companies.find_or_create(team.id, owner.id, "   ") is None
    assert companies.find_or_create(team.id, owner.id, "Globex", create=False) is None
    assert db.session.scalars(select(Company)).all() == []


def test_a_company_created_by_the_contact_form_is_audited(logged_in, team):
    response = logged_in.post(
        "/contacts/new",
        data={"first_name": "Ada", "company_name": "Analytical Engines", "owner_id": "0"},
    )
    assert response.status_code == 303
    [event] = _company_audits(team)
    assert db.session.get(Company, event.entity_id).name == "Analytical Engines"


def test_a_company_created_by_a_csv_import_is_audited(team, owner, run_jobs):
    raw = "Name,Email,Company\nJosé Müller,jose@example.com,Café Crème GmbH\n"
    raw += "Renée Dupont,renee@example.com,café crème gmbh\n"
    job = imports.create_import(team.id, owner.id, "contacts.csv", raw.encode())
    imports.start(job, job.mapping, "skip", False)
    run_jobs()
    [company] = db.session.scalars(select(Company).where(Company.team_id == team.id)).all()
    [event] = _company_audits(team)
    assert event.entity_id == company.id


def test_tags_typed_anywhere_land_on_one_spelling(team):
    assert tags.split("VIP,  big   deal ,,") == ["VIP", "  big   deal "]
    found = tags.find_or_create(team.id, ["VIP", " vip ", "Big  Deal"])
    db.session.commit()
    assert [t.name for t in found] == ["vip", "big deal"]
    assert [t.id for t in tags.find_or_create(team.id, ["big deal"])] == [found[1].id]


def test_a_domain_error_lands_on_the_field_it_names(app):
    from crm.contacts.forms import ContactForm
    from crm.errors import Invalid
    from crm.kernel.forms import show_error

    with app.test_request_context(
        "/contacts/new",
        method="POST",
        data={"emails-0-email": "a@example.com", "emails-1-email": "b@example.com"},
    ):
        form = ContactForm(meta={"csrf": False})
        form.validate()
        show_error(form, Invalid("Taken.", field="emails.1"))
        show_error(form, Invalid("Taken.", field="emails.1"))
        show_error(form, Invalid("No such company.", field="company_id"))
        show_error(form, Invalid("Not a profile.", field="social.linkedin"))
        show_error(form, Invalid("Out of range.", field="emails.7"))
        show_error(form, Invalid("Something else."))
        assert form.emails.entries[1].form.email.errors == ["Taken."]
        assert form.emails.entries[0].form.email.errors == []
        assert form.company_name.errors == ["No such company."]
        assert form.linkedin.errors == ["Not a profile."]
        assert form.form_errors == ["Out of range.", "Something else."]


def test_a_cursor_gives_back_its_values_and_a_foreign_one_means_the_first_page():
    from datetime import UTC, date, datetime

    from crm.kernel import paging

    when = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
    cursor = paging.encode(when, "o'brien, ann", date(2026, 1, 2), None, 42)
    assert paging.decode(cursor, datetime, str, date, datetime, int) == (
        when,
        "o'brien, ann",
        date(2026, 1, 2),
        None,
        42,
    )
    assert cursor.replace("-", "").replace("_", "").isalnum()  # safe in a URL as it is
    for foreign in ("|0", "12:abc", "", None, paging.encode("x", 1)[:-2], paging.encode(1)):
        assert paging.decode(foreign, str, int) is None
    page = paging.take([1, 2, 3], 2, lambda n: paging.encode(n))
    assert (page.items, paging.decode(page.next_cursor, int)) == ([1, 2], (2,))
    assert paging.take([1, 2], 2, lambda n: paging.encode(n)).next_cursor is None


def test_a_hand_made_cursor_with_a_number_beyond_64_bits_means_the_first_page():
    from crm.kernel import paging

    assert paging.decode(paging.encode("x", 2**63 - 1), str, int) == ("x", 2**63 - 1)
    assert paging.decode(paging.encode(-(2**63)), int) == (-(2**63),)
    for number in (2**63, -(2**63) - 1, 10**30, True):
        assert paging.decode(paging.encode("x", number), str, int) is None


def test_an_unknown_zone_is_utc_and_local_times_come_back_to_utc():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from crm.kernel import dates

    assert dates.zone("Mars/Olympus_Mons") == ZoneInfo("UTC") == dates.zone(None)
    berlin = ZoneInfo("Europe/Berlin")
    typed = datetime(2026, 7, 1, 9, 0)  # 09:00 in Berlin (summer: UTC+2)
    assert dates.from_local(typed, berlin) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    day, start, end = dates.day_bounds(datetime(2026, 7, 1, 23, 30, tzinfo=UTC), berlin)
    assert (day.isoformat(), start.hour, end.hour) == ("2026-07-02", 22, 22)


def test_a_value_the_contact_form_accepts_the_service_and_the_import_accept_too(app, team, owner):
    from crm.contacts import services as contacts
    from crm.contacts.forms import ContactForm
    from crm.imports import writer
    from crm.kernel.fields import CONTACT_LIMITS

    with app.test_request_context():
        fields = ContactForm(meta={"csrf": False})._fields
    form_limits = {
        name: v.max
        for name, field in fields.items()
        for v in field.validators
        if hasattr(v, "max") and name in CONTACT_LIMITS
    }
    assert form_limits["title"] == CONTACT_LIMITS["title"]
    assert all(form_limits[k] == CONTACT_LIMITS[k] for k in form_limits)
    longest = "x" * CONTACT_LIMITS["title"]
    contact = contacts.create_contact(team.id, owner.id, {"first_name": "A", "title": longest})
    assert contact.title == longest
    assert writer.clean({"first_name": "A", "title": longest})["title"] == longest


def test_a_company_email_in_creates_for_a_mail_domain_is_audited(team):
    from crm.inbound import rules

    company = rules._company_for(team, "northwind-traders.com")
    again = rules._company_for(team, "northwind-traders.com")
    db.session.commit()
    assert company.id == again.id
    assert (company.name, company.domain) == ("Northwind Traders", "northwind-traders.com")
    [event] = _company_audits(team)
    assert event.entity_id == company.id and event.actor_id is None
