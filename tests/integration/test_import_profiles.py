"""Moving in from another product: each product's export, as it writes it, imported end to end
without mapping a column by hand (fixtures in tests/fixtures/imports/, made-up people)."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.imports import columns, export_columns, services, vcards
from crm.models import Company, Contact, ContactEmail, ImportJob, ImportStatus, Team
from tests import factories
from tests.conftest import TEST_PASSWORD

FIXTURES = Path(__file__).parent.parent / "fixtures" / "imports"


@pytest.fixture
def team(owner):
    team = factories.team_of(owner)
    team.default_country = "GB"  # national numbers in the files are British
    db.session.commit()
    return team


@pytest.fixture
def seller(team):
    return factories.make_member(team, name="Sam Seller", email="sam@example.com")


def _import(team, owner, run_jobs, name: str, raw: bytes | None = None) -> ImportJob:
    raw = raw if raw is not None else (FIXTURES / name).read_bytes()
    job = services.create_import(team.id, owner.id, name, raw)
    services.start(job, job.mapping, "skip", False)
    run_jobs()
    db.session.expire_all()
    return db.session.get(ImportJob, job.id)


def _contact(team, email: str) -> Contact:
    return db.session.scalars(
        select(Contact)
        .join(ContactEmail, ContactEmail.contact_id == Contact.id)
        .where(ContactEmail.team_id == team.id, ContactEmail.email == email)
    ).one()


def _phones(contact) -> set[tuple[str, str]]:
    return {(p.e164, p.label) for p in contact.phones}


def _emails(contact) -> set[tuple[str, str]]:
    return {(e.email, e.label) for e in contact.emails}


# Each file: the product the importer names, the contacts it creates, and one contact checked.
CASES = {
    "hubspot-contacts.csv": (
        "HubSpot",
        3,
        "zoe@example.com",
        {
            "first_name": "Zoë",
            "last_name": "Ångström",
            "title": "Buyer",
            "company": "Bäckerei Müller GmbH",
            "owner": "sam@example.com",
            "city": "London",
            "country": "United Kingdom",
            "website": "https://www.baeckerei.example",
            "lifecycle": "customer",
            "phones": {("+442079460958", "work"), ("+447700900123", "mobile")},
        },
    ),
    "pipedrive-people.csv": (
        "Pipedrive",
        2,
        "eleni@acropolis.example",
        {
            "first_name": "Ελένη",
            "last_name": "Παπαδοπούλου",
            "title": "Chef",
            "company": "Acropolis Foods",
            "owner": "sam@example.com",
            "tags": ["Hot lead"],
            "emails": {("eleni@acropolis.example", "work"), ("eleni.p@home.example", "personal")},
            "phones": {("+442079460000", "work"), ("+447700900456", "mobile")},
        },
    ),
    "salesforce-contacts.csv": (
        "Salesforce",
        2,
        "juergen@example.de",
        {
            "first_name": "Jürgen",
            "last_name": "Weiß",
            "title": "Einkauf",
            "company": "Bäckerei Müller GmbH",
            "owner": "sam@example.com",
            "street": "Hauptstraße 5",
            "city": "Berlin",
            "country": "Germany",
            "source": "Trade Show",
            "phones": {("+49301234567", "work"), ("+447700900987", "mobile")},
        },
    ),
    "zoho-contacts.csv": (
        "Zoho CRM",
        2,
        "priya@ganga.example",
        {
            "first_name": "प्रिया",
            "last_name": "शर्मा",
            "title": "Director",
            "company": "Ganga Textiles",
            "owner": "sam@example.com",
            "region": "Maharashtra",
            "postal_code": "400001",
            "notes": "Prefers email",
            "tags": ["textiles", "vip"],
            "emails": {("priya@ganga.example", "work"), ("priya.s@example.in", "other")},
            "phones": {("+442079460222", "work"), ("+447700900444", "mobile")},
        },
    ),
    "capsule-people.csv": (
        "Capsule",
        2,
        "mohammed@desert.example",
        {
            "first_name": "محمد",
            "last_name": "العلي",
            "title": "Engineer",  # not "Mr": Capsule's Title is the salutation
            "company": "Desert Tech",
            "owner": "sam@example.com",
            "postal_code": "SW1A 1AA",
            "website": "https://desert.example",
            "notes": "Met at Expo",
            "tags": ["arabic", "vip"],
            "phones": {("+442079460333", "work"), ("+447700900789", "mobile")},
        },
    ),
    "google-contacts.csv": (
        "Google Contacts",
        2,
        "minjun@example.kr",
        {
            "first_name": "민준",
            "last_name": "김",
            "title": "Designer",
            "company": "Hanbit Co",
            "city": "Seoul",
            "country": "South Korea",
            "notes": "Met at the Seoul fair",
            "tags": ["Clients"],
            "emails": {
                ("minjun@example.kr", "work"),
                ("minjun@home.example", "personal"),
                ("mj2@home.example", "personal"),
            },
            "phones": {("+447700900321", "mobile"), ("+8223123456", "work")},
        },
    ),
    "outlook-contacts.csv": (
        "Outlook",
        2,
        "soren@example.dk",
        {
            "first_name": "Søren",
            "last_name": "Kierkegaard",
            "title": "Philosopher",  # not "Mr.": Outlook's Title is the salutation
            "company": "Københavns Filosofi",
            "city": "København",
            "country": "Denmark",
            "notes": "Prefers letters",
            "tags": ["Philosophers"],
            "emails": {("soren@example.dk", "work"), ("s.k@home.example", "other")},
            "phones": {("+447700900654", "mobile"), ("+442079460444", "work")},
        },
    ),
    "apple-contacts.vcf": (
        "vCard",
        2,
        "yuki@kaisha.example",
        {
            "first_name": "由紀",
            "last_name": "中村",
            "title": "CTO",
            "company": "Kaisha Ltd",
            "street": "1-1 Marunouchi",
            "city": "Tokyo",
            "postal_code": "100-0001",
            "country": "Japan",
            "notes": "Met in Tokyo, twice.\nLikes tea.",
            "tags": ["Partners"],
            "phones": {("+447700900111", "mobile"), ("+442079460555", "work")},
        },
    ),
    "google-contacts.vcf": (
        "vCard",
        2,
        "ana@souza.example",
        {
            "first_name": "Ana",
            "last_name": "Souza",
            "title": "Owner",
            "company": "Souza & Filhos",
            "city": "São Paulo",
            "tags": ["Clients"],
            "emails": {("ana@souza.example", "work"), ("ana@home.example", "personal")},
            "phones": {("+447700900222", "mobile")},
        },
    ),
    "outlook-contacts.vcf": (
        "vCard",
        1,
        "charlie@peanuts.example",
        {
            "first_name": "Charlie",
            "last_name": "Brown",
            "company": "Peanuts Ltd",
            "postal_code": "AB1 2CD",
            "notes": "Likes kites\nAnd café",
            "phones": {("+442079460666", "work"), ("+447700900333", "mobile")},
        },
    ),
    "contacts-v4.vcf": (
        "vCard",
        1,
        "leila@example.lb",
        {
            "first_name": "ليلى",
            "last_name": "حداد",
            "company": "Cedar Org",
            "website": "https://cedar.example",
            "phones": {("+9613123456", "mobile")},
        },
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_products_export_is_imported_without_mapping_by_hand(
    team, owner, seller, run_jobs, name
):
    product, created, email, expected = CASES[name]
    job = _import(team, owner, run_jobs, name)

    assert job.profile == product
    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.error_count) == (created, 0), job.errors
    contact = _contact(team, email)
    for key, value in expected.items():
        if key == "company":
            assert contact.company.name == value
        elif key == "owner":
            assert contact.owner_id == seller.id
        elif key == "lifecycle":
            assert contact.lifecycle.value == value
        elif key == "tags":
            assert sorted(t.name for t in contact.tags) == sorted(v.lower() for v in value)
        elif key == "phones":
            assert _phones(contact) == value
        elif key == "emails":
            assert _emails(contact) == value
        else:
            assert getattr(contact, key) == value, key


def test_an_owner_who_is_not_a_member_is_said_and_the_importer_owns_the_contact(
    team, owner, seller, run_jobs
):
    job = _import(team, owner, run_jobs, "hubspot-contacts.csv")
    dmitri = _contact(team, "dmitri@example.ru")
    assert (dmitri.first_name, dmitri.last_name, dmitri.city) == ("Дмитрий", "Иванов", "Москва")
    assert dmitri.owner_id == owner.id
    row = next(s for s in job.sample if s["name"] == "Дмитрий Иванов")
    assert "Nobody Here" in row["note"]
    # The two rows naming the same company share it; the first one created it.
    assert dmitri.company_id == _contact(team, "zoe@example.com").company_id


def test_the_mapping_page_names_the_product_and_what_it_left_out(logged_in, team):
    raw = (FIXTURES / "hubspot-contacts.csv").read_bytes()
    job = services.create_import(team.id, None, "hubspot.csv", raw)
    page = logged_in.get(f"/contacts/import/{job.id}").get_data(as_text=True)
    assert "Looks like a HubSpot export — 14 of 14 columns mapped." in page
    assert "Left out" not in page
    assert '<option value="external_id" selected>' in page  # "Record ID" links later files
    assert '<option value="owner" selected>' in page
    assert '<option value="company" selected>' in page


def test_google_type_columns_label_their_values_and_stay_editable(logged_in, team):
    raw = (FIXTURES / "google-contacts.csv").read_bytes()
    job = services.create_import(team.id, None, "google.csv", raw)
    header, _ = services.preview(job)
    value = header.index("Phone 1 - Value")
    assert job.mapping[str(header.index("Phone 1 - Type"))] == f"type_of:{value}"
    page = logged_in.get(f"/contacts/import/{job.id}").get_data(as_text=True)
    assert "Looks like a Google Contacts export" in page
    assert f'<option value="type_of:{value}" selected>Type of “Phone 1 - Value”</option>' in page


def test_a_teams_own_mapping_is_remembered_for_the_next_file_with_the_same_headers(
    logged_in, team, owner
):
    raw = b"Vorname;Nachname;Mail;Handy\nAnna;Schmidt;anna@example.de;0151 23456789\n"
    first = services.create_import(team.id, owner.id, "a.csv", raw)
    assert first.profile is None and "3" not in first.mapping  # "Handy": no word for it
    chosen = {"0": "first_name", "1": "last_name", "2": "email", "3": "phone2"}
    services.start(first, chosen, "skip", True)

    again = raw.replace(b"Anna;Schmidt", b"Ben;Bauer").replace(b"anna@", b"ben@")
    second = services.create_import(team.id, owner.id, "b.csv", again)
    assert second.mapping == chosen
    page = logged_in.get(f"/contacts/import/{second.id}").get_data(as_text=True)
    assert "4 of 4 columns mapped, as you mapped them last time." in page

    # Another team's files are not mapped by this team's choices.
    other = factories.team_of(factories.make_user())
    assert services.create_import(other.id, None, "c.csv", again).mapping != chosen


def test_national_numbers_are_read_in_the_teams_default_country(team, owner, run_jobs):
    team.default_country = "DE"
    db.session.commit()
    raw = "First name,Last name,Email,Phone\nAnna,Schmidt,anna@example.de,030 1234567\n"
    job = _import(team, owner, run_jobs, "de.csv", raw.encode())
    assert job.created_count == 1
    assert _phones(_contact(team, "anna@example.de")) == {("+49301234567", "work")}


def test_utf16_big_endian_export_is_read(team, owner, seller, run_jobs):
    text = (FIXTURES / "hubspot-contacts.csv").read_bytes().decode("utf-8-sig")
    job = _import(
        team, owner, run_jobs, "hubspot.csv", codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    )
    assert (job.profile, job.created_count) == ("HubSpot", 3)
    assert _contact(team, "taro@example.jp").company.name == "株式会社サンプル"


def test_a_vcard_import_reverts_like_a_csv_one(team, owner, seller, run_jobs):
    from crm.imports import revert

    job = _import(team, owner, run_jobs, "apple-contacts.vcf")
    assert job.created_count == 2
    revert.revert(job, owner.id)
    assert db.session.scalars(select(Contact).where(Contact.team_id == team.id)).all() == []


def test_a_file_without_cards_is_refused():
    with pytest.raises(vcards.Unreadable):
        vcards.to_csv("BEGIN:VCALENDAR\nEND:VCALENDAR\n")


def test_a_card_vobject_cannot_read_still_shows_its_name():
    text = (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Broken Card\nN:Card;Broken\nBDAY;VALUE=date:\x00\nEND:VCARD\n"
    )
    assert "Broken Card" in vcards.to_csv(text)


def test_every_known_column_is_either_a_field_or_left_out_on_purpose():
    tables = (
        ("contacts", export_columns.PRODUCTS),
        ("companies", export_columns.COMPANY_PRODUCTS),
        ("notes", export_columns.NOTE_PRODUCTS),
    )
    for kind, products in tables:
        for product, table in products.items():
            for name, target in table.items():
                assert (
                    target is None or target in columns.KINDS[kind] or target.startswith("type_of:")
                ), (kind, product, name, target)


def test_the_default_country_is_a_team_setting(logged_in, owner):
    page = logged_in.get("/settings/team").get_data(as_text=True)
    assert '<label for="default_country">Default country for phone numbers</label>' in page
    assert '<option value="GB">United Kingdom</option>' in page
    data = {"name": "Acme Sales", "currency": "EUR", "default_country": "DE"}
    assert logged_in.post("/settings/team", data=data).status_code == 303
    db.session.expire_all()
    assert factories.team_of(owner).default_country == "DE"
    bad = logged_in.post("/settings/team", data=data | {"default_country": "XX"})
    assert bad.status_code == 422 and 'id="default_country-error"' in bad.text


def test_sign_up_guesses_the_default_country_from_the_browser(client):
    response = client.post(
        "/signup",
        data={
            "name": "Ines Garcia",
            "team_name": "Garcia SL",
            "email": "ines@example.es",
            "password": TEST_PASSWORD,
        },
        headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.8"},
    )
    assert response.status_code == 303
    team = db.session.scalars(select(Team).where(Team.name == "Garcia SL")).one()
    assert team.default_country == "ES"


def _company(team, name: str) -> Company:
    return db.session.scalars(
        select(Company).where(Company.team_id == team.id, Company.name == name)
    ).one()


def _import_kind(team, owner, run_jobs, name: str, kind: str, policy="skip") -> ImportJob:
    job = services.create_import(team.id, owner.id, name, (FIXTURES / name).read_bytes(), kind)
    services.start(job, job.mapping, policy, False)
    run_jobs()
    db.session.expire_all()
    return db.session.get(ImportJob, job.id)


def test_a_companies_export_is_imported_with_owner_domain_and_its_id(team, owner, seller, run_jobs):
    job = _import_kind(team, owner, run_jobs, "hubspot-companies.csv", "companies")
    assert (job.profile, job.kind) == ("HubSpot", "companies")
    assert (job.created_count, job.error_count) == (2, 0), job.errors
    sample = _company(team, "株式会社サンプル")
    assert (sample.domain, sample.phone, sample.city) == (
        "sample.example.jp",
        "+81312345678",
        "東京",
    )
    assert (sample.industry, sample.size, sample.owner_id) == ("Retail", "250", seller.id)
    assert (sample.external_source, sample.external_id) == ("HubSpot", "9001")
    assert _company(team, "Bäckerei Müller GmbH").phone == "+442079460100"

    # The same file again finds them (by their HubSpot ids): nothing twice.
    again = _import_kind(team, owner, run_jobs, "hubspot-companies.csv", "companies")
    assert (again.created_count, again.skipped_count) == (0, 2)

    # Reverting the first import removes the companies it created.
    from crm.imports import revert

    revert.revert(db.session.get(ImportJob, job.id), owner.id)
    db.session.expire_all()
    left = db.session.scalars(select(Company).where(Company.team_id == team.id)).all()
    assert left == []


def test_a_contacts_file_links_to_the_companies_file_before_it_by_id(team, owner, seller, run_jobs):
    accounts = _import_kind(team, owner, run_jobs, "salesforce-accounts.csv", "companies")
    assert (accounts.profile, accounts.created_count) == ("Salesforce", 2)
    people = _import_kind(
        team, owner, run_jobs, "salesforce-contacts-with-accounts.csv", "contacts"
    )
    assert (people.profile, people.created_count, people.error_count) == ("Salesforce", 2, 0)
    renee = _contact(team, "renee@example.fr")
    # Linked by "Account ID", not by the differently written "Account Name".
    assert renee.company.name == "Café Crème"
    assert _contact(team, "asa@nordlicht.example").company.name == "Nordlicht AB"
    assert (renee.external_source, renee.external_id) == ("Salesforce", "003A000001")
    names = db.session.scalars(select(Company.name).where(Company.team_id == team.id)).all()
    assert sorted(names) == ["Café Crème", "Nordlicht AB"]

    # Importing the contacts again with "update" updates the same people, by their ids.
    again = _import_kind(
        team, owner, run_jobs, "salesforce-contacts-with-accounts.csv", "contacts", "update"
    )
    assert (again.created_count, again.updated_count) == (0, 2)


def test_the_upload_page_asks_what_the_file_holds(logged_in, team):
    page = logged_in.get("/contacts/import").get_data(as_text=True)
    assert "<legend>What the file holds</legend>" in page
    raw = (FIXTURES / "hubspot-companies.csv").read_bytes()
    response = logged_in.post(
        "/contacts/import",
        data={"kind": "companies", "file": (io.BytesIO(raw), "companies.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    job = db.session.scalars(select(ImportJob)).one()
    page = logged_in.get(f"/contacts/import/{job.id}").get_data(as_text=True)
    assert "Looks like a HubSpot export — 10 of 11 columns mapped." in page
    assert '<option value="domain" selected>Domain</option>' in page


def test_notes_land_on_the_timeline_in_date_order_and_revert_as_a_step(
    team, owner, seller, run_jobs
):
    from crm.imports import revert
    from crm.models import Activity, ActivityKind

    _import(team, owner, run_jobs, "pipedrive-people.csv")
    job = _import_kind(team, owner, run_jobs, "pipedrive-notes.csv", "notes")
    assert (job.profile, job.kind) == ("Pipedrive", "notes")
    # The last row names nobody Rapport has: an error to fix; the others are written (the
    # third on José's company, Café Crème, which the people file created).
    assert (job.created_count, job.error_count) == (3, 1), job.errors
    assert "import them first" in job.errors[0]["error"]
    eleni = _contact(team, "eleni@acropolis.example")
    notes = db.session.scalars(
        select(Activity)
        .join(Activity.links)
        .where(Activity.team_id == team.id, Activity.kind == ActivityKind.NOTE)
        .order_by(Activity.occurred_at)
    ).all()
    assert [n.body for n in notes] == [
        "Erstes Gespräch: Interesse an 200 Stück.",
        "Angebot geschickt.",
    ]
    assert [n.occurred_at.strftime("%Y-%m-%d %H:%M") for n in notes] == [
        "2023-05-04 09:15",
        "2023-06-10 14:00",
    ]
    assert [n.author_id for n in notes] == [seller.id, None]  # an ex-colleague: "Imported"
    assert all([link.contact_id for link in n.links] == [eleni.id] for n in notes)
    assert notes[0].company_id == eleni.company_id

    again = _import_kind(team, owner, run_jobs, "pipedrive-notes.csv", "notes")
    assert (again.created_count, again.skipped_count) == (0, 3)  # not twice

    revert.revert(db.session.get(ImportJob, job.id), owner.id)
    db.session.expire_all()
    left = db.session.scalars(
        select(Activity).where(Activity.team_id == team.id, Activity.kind == ActivityKind.NOTE)
    ).all()
    assert left == []
    assert _contact(team, "eleni@acropolis.example").id == eleni.id  # people stay


def test_an_imported_note_without_a_member_author_shows_as_imported(
    logged_in, team, owner, seller, run_jobs
):
    _import(team, owner, run_jobs, "pipedrive-people.csv")
    _import_kind(team, owner, run_jobs, "pipedrive-notes.csv", "notes")
    eleni = _contact(team, "eleni@acropolis.example")
    page = logged_in.get(f"/contacts/{eleni.id}").get_data(as_text=True)
    assert "Angebot geschickt." in page
    assert '<span class="entry-who">Imported</span>' in page
    assert '<span class="entry-who">Sam Seller</span>' in page
