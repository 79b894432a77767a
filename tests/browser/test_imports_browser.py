"""A CSV import in a real browser, at desktop width and on a 390×844 phone."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from crm.extensions import db
from tests import factories
from tests.conftest import assert_no_sideways_scroll, log_in

CSV = (
    "First name;Last name;E-mail;Phone;Company;A very long column header that could overflow\n"
    "José;Müller;jose@example.com;+49 30 1234567;Café Crème;x\n"
    "Bad;Row;not-an-email;;;y\n"
    "Zoë;Ångström;zoe@example.com;;;z\n"
).encode("cp1252")


def _log_in(page, email):
    log_in(page, email)


def test_import_a_csv_with_a_dry_run_then_revert_it(page, owner, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(CSV)
    _log_in(page, owner.email)

    page.goto("/contacts/import")
    assert_no_sideways_scroll(page)
    page.get_by_label("CSV or vCard file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page.get_by_role("heading", name="Map columns")).to_be_visible()
    expect(page.get_by_label("Column “E-mail”")).to_have_value("email")
    expect(page.get_by_label("Column “Company”")).to_have_value("company")
    assert_no_sideways_scroll(page)
    expect(
        page.get_by_label("Dry run first (show what would happen, write nothing)")
    ).to_be_checked()
    page.get_by_role("button", name="Continue").click()

    # The status polls itself until the job is done.
    expect(page.get_by_role("heading", name="Dry run: nothing was written")).to_be_visible()
    expect(page.locator("[data-count=created]")).to_have_text("2")
    expect(page.locator("[data-count=errors]")).to_have_text("1")
    assert_no_sideways_scroll(page)

    page.get_by_role("button", name="Import 3 rows").click()
    expect(page.get_by_role("heading", name="Import finished")).to_be_visible()
    expect(page.locator("[data-count=created]")).to_have_text("2")
    expect(page.get_by_role("link", name="Download the error report (CSV)")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revert this import").click()
    expect(page.get_by_role("heading", name="Reverted")).to_be_visible()
    expect(page.get_by_text("2 contacts removed")).to_be_visible()
    assert_no_sideways_scroll(page)


def test_import_a_vcard_address_book(page, owner):
    vcf = Path(__file__).parent.parent / "fixtures" / "imports" / "apple-contacts.vcf"
    factories.team_of(owner).default_country = "GB"  # the cards' numbers are British
    db.session.commit()
    _log_in(page, owner.email)

    page.goto("/contacts/import")
    page.get_by_label("CSV or vCard file").set_input_files(str(vcf))
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page.get_by_role("heading", name="Map columns")).to_be_visible()
    expect(page.get_by_text("An address book (vCard) — ")).to_be_visible()
    expect(page.get_by_label("Column “Email 1”")).to_have_value("email")
    expect(page.get_by_label("Column “Phone 1 type”")).to_have_value(re.compile(r"^type_of:"))
    assert_no_sideways_scroll(page)
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Dry run: nothing was written")).to_be_visible()
    expect(page.locator("[data-count=created]")).to_have_text("2")
    page.get_by_role("button", name="Import 2 rows").click()
    expect(page.get_by_role("heading", name="Import finished")).to_be_visible()
    expect(page.locator("[data-count=created]")).to_have_text("2")
    assert_no_sideways_scroll(page)

    page.goto("/contacts")
    expect(page.get_by_role("link", name="由紀 中村")).to_be_visible()
    assert_no_sideways_scroll(page)
