"""Custom fields in lists: filters, sorts with keyset paging, columns and the CSV export."""

from __future__ import annotations

import csv
import io

from werkzeug.datastructures import MultiDict

from crm.contacts.queries import ContactFilters, contact_page
from crm.custom_fields import services as fields
from tests import factories


def _team_with_values(owner):
    team = factories.team_of(owner)
    plan = factories.make_custom_field(team, label="Plan", type="select")
    renewal = factories.make_custom_field(team, label="Renewal", type="date")
    seats = factories.make_custom_field(team, label="Seats", type="number")
    people = {}
    for name, tier, day, count in [
        ("Ann", "Pro", "2027-03-01", "10"),
        ("Bob", "Basic", "2027-01-15", "2"),
        ("Cid", "Pro", "2027-02-01", "25"),
        ("Dee", None, None, None),
        ("Eve", "Enterprise", "2026-12-24", "300"),
    ]:
        contact = factories.make_contact(team, first_name=name, last_name="X")
        for field, value in ((plan, tier), (renewal, day), (seats, count)):
            if value:
                fields.set_value(contact, field, value, owner.id)
        people[name] = contact
    # Another team with look-alike data must never show up.
    other = factories.team_of(factories.make_user(email="o@example.com", team_name="Other"))
    twin = factories.make_custom_field(other, label="Plan", type="select")
    fields.set_value(factories.make_contact(other, first_name="Zed"), twin, "Pro", None)
    return team, plan, people


def _names(team, args, limit=None, cursor=None):
    page = contact_page(team.id, ContactFilters.from_args(MultiDict(args)), cursor, limit)
    return [c.first_name for c in page.items], page.next_cursor


def test_filters_by_type(owner):
    team, plan, _ = _team_with_values(owner)
    pro = next(o["id"] for o in plan.options if o["label"] == "Pro")
    assert _names(team, {"cf_plan": pro})[0] == ["Ann", "Cid"]
    assert _names(team, {"cf_plan": "Basic"})[0] == ["Bob"]  # a label works in a URL too
    assert _names(team, {"cf_plan__any": "Basic,Enterprise"})[0] == ["Bob", "Eve"]
    assert _names(team, {"cf_plan__empty": "1"})[0] == ["Dee"]
    assert _names(team, {"cf_renewal__min": "2027-01-01", "cf_renewal__max": "2027-02-28"})[0] == [
        "Bob",
        "Cid",
    ]
    assert _names(team, {"cf_seats__min": "10"})[0] == ["Ann", "Cid", "Eve"]
    assert _names(team, {"cf_seats__max": "9"})[0] == ["Bob"]
    assert _names(team, {"cf_nope": "x", "cf_seats__min": "lots"})[0] == [
        "Ann",
        "Bob",
        "Cid",
        "Dee",
        "Eve",
    ]


def test_sorts_page_by_keyset_with_empty_values_last(owner):
    team, _, _ = _team_with_values(owner)
    for sort, expected in [
        ("cf_renewal", ["Eve", "Bob", "Cid", "Ann", "Dee"]),
        ("-cf_renewal", ["Ann", "Cid", "Bob", "Eve", "Dee"]),
        ("cf_seats", ["Bob", "Ann", "Cid", "Eve", "Dee"]),
        ("-cf_seats", ["Eve", "Cid", "Ann", "Bob", "Dee"]),
        ("cf_plan", None),
    ]:
        everything, _ = _names(team, {"sort": sort})
        if expected:
            assert everything == expected, sort
        walked, cursor = [], None
        while True:
            names, cursor = _names(team, {"sort": sort}, limit=2, cursor=cursor)
            walked += names
            if not cursor:
                break
        assert walked == everything, sort


def test_list_page_filters_sorts_and_shows_columns(logged_in, owner):
    team, _, _ = _team_with_values(owner)
    page = logged_in.get("/contacts?cf_plan=Pro&sort=-cf_seats&cols=plan&cols=seats")
    assert page.status_code == 200
    text = page.text
    assert text.index("Cid X") < text.index("Ann X") and "Bob X" not in text
    assert "<dt>Seats</dt><dd>25</dd>" in text
    assert '<option selected value="-cf_seats">' in text


def test_export_is_the_filtered_list_with_custom_columns(logged_in, owner):
    team, _, _ = _team_with_values(owner)
    response = logged_in.get("/contacts/export.csv?cf_plan__any=Pro,Basic&sort=cf_seats")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    assert header[-3:] == ["Plan", "Renewal", "Seats"]
    assert [(r[0], r[-3], r[-2], r[-1]) for r in body] == [
        ("Bob", "Basic", "2027-01-15", "2"),
        ("Ann", "Pro", "2027-03-01", "10"),
        ("Cid", "Pro", "2027-02-01", "25"),
    ]


def test_common_values_give_the_same_results_through_the_other_plan(owner, monkeypatch):
    from crm.kernel.custom_fields import lists

    monkeypatch.setattr(lists, "COMMON_MATCHES", 1)
    test_filters_by_type(owner)


def test_export_then_import_round_trip_with_a_dry_run(logged_in, owner, run_jobs):
    from sqlalchemy import select

    from crm.extensions import db
    from crm.kernel import custom_fields
    from crm.models import Contact, ImportJob

    team, _, _ = _team_with_values(owner)
    exported = logged_in.get("/contacts/export.csv").text.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(exported)))
    header = rows[0]
    # The same people under new names and addresses, one with a bad date.
    body = [[f"New{r[0]}", *r[1:2], f"new.{r[0].lower()}@example.com", *r[3:]] for r in rows[1:]]
    body[1][header.index("Renewal")] = "someday"
    out = io.StringIO()
    csv.writer(out).writerows([header, *body])
    logged_in.post(
        "/contacts/import",
        data={"file": (io.BytesIO(out.getvalue().encode()), "again.csv")},
        content_type="multipart/form-data",
    )
    job = db.session.scalars(select(ImportJob)).one()
    mapping_page = logged_in.get(f"/contacts/import/{job.id}").text
    assert 'value="cf_plan" selected' in mapping_page  # matched by the column's name
    form = {"column-0": "first_name", "column-1": "last_name", "column-2": "email"}
    for name in ("Plan", "Renewal", "Seats"):
        form[f"column-{header.index(name)}"] = f"cf_{name.lower()}"
    logged_in.post(
        f"/contacts/import/{job.id}/start", data={**form, "policy": "create", "dry_run": "y"}
    )
    run_jobs()
    db.session.rollback()
    job = db.session.get(ImportJob, job.id)
    assert job.error_count == 1 and "not a date" in str(job.errors)
    assert db.session.scalar(select(Contact).where(Contact.first_name == "NewAnn")) is None
    logged_in.post(f"/contacts/import/{job.id}/start", data={**form, "policy": "create"})
    run_jobs()
    db.session.rollback()
    new_ann = db.session.scalar(select(Contact).where(Contact.first_name == "NewAnn"))
    fields = {f.key: f for f in custom_fields.fields_for(team.id, "contact")}
    found = custom_fields.read(team.id, "contact", [new_ann.id])[new_ann.id]
    shown = {k: custom_fields.show(f, found.get(f.id)) for k, f in fields.items()}
    assert shown == {"plan": "Pro", "renewal": "2027-03-01", "seats": "10"}
