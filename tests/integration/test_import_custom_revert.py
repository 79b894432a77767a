"""Reverting an update import puts custom values back — only those nobody changed since."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.custom_fields import services as fields
from crm.extensions import db
from crm.imports import revert, services
from crm.kernel import custom_fields
from crm.models import AuditEvent, Contact, CustomValue, ImportJob
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def _import(team, owner, raw: bytes, mapping, run_jobs, policy="update"):
    job = services.create_import(team.id, owner.id, "contacts.csv", raw)
    services.start(job, mapping, policy, False)
    run_jobs()
    db.session.expire_all()
    return db.session.get(ImportJob, job.id)


def _shown(team, contact):
    found = custom_fields.read(team.id, "contact", [contact.id]).get(contact.id, {})
    return {
        f.key: custom_fields.show(f, found.get(f.id))
        for f in custom_fields.fields_for(team.id, "contact")
    }


MAPPING = {"0": "email", "1": "cf_plan", "2": "cf_renewal", "3": "cf_seats", "4": "cf_vip"}


def test_revert_puts_back_custom_values_an_update_import_changed(team, owner, run_jobs):
    plan = factories.make_custom_field(team, label="Plan", type="select")
    renewal = factories.make_custom_field(team, label="Renewal", type="date")
    factories.make_custom_field(team, label="Seats", type="number")
    factories.make_custom_field(team, label="VIP", type="checkbox")
    ann = factories.make_contact(team, first_name="Ann", email="ann@example.com")
    fields.set_value(ann, plan, "Basic", owner.id)
    fields.set_value(ann, renewal, "2027-01-01", owner.id)
    bob = factories.make_contact(team, first_name="Bob", email="bob@example.com")
    raw = (
        b"email,plan,renewal,seats,vip\n"
        b"ann@example.com,Pro,2027-06-30,12,yes\n"
        b"bob@example.com,Enterprise,,5,\n"
        b"new@example.com,Pro,,1,\n"
    )
    job = _import(team, owner, raw, MAPPING, run_jobs)
    assert _shown(team, ann) == {
        "plan": "Pro",
        "renewal": "2027-06-30",
        "seats": "12",
        "vip": "Yes",
    }
    new = db.session.scalar(select(Contact).where(Contact.team_id == team.id, Contact.id > bob.id))

    counts = revert.revert(job, owner.id)

    assert counts["kept"] == [] and counts["removed"] == 1 and counts["restored"] == 2
    db.session.expire_all()
    assert _shown(team, ann) == {"plan": "Basic", "renewal": "2027-01-01", "seats": "", "vip": "No"}
    assert _shown(team, bob) == {"plan": "", "renewal": "", "seats": "", "vip": "No"}
    # The removed contact leaves no value rows behind for a later record to inherit.
    orphans = select(func.count()).where(CustomValue.record_id == new.id)
    assert db.session.scalar(orphans.select_from(CustomValue)) == 0
    # Each value put back is in the trail, like a person's edit.
    trail = db.session.scalars(
        select(AuditEvent.changes).where(
            AuditEvent.entity_type == "contact", AuditEvent.entity_id == ann.id
        )
    ).all()
    assert {"Plan": ["Pro", "Basic"]} in trail


def test_revert_keeps_a_custom_value_edited_since_and_says_so(team, owner, run_jobs):
    plan = factories.make_custom_field(team, label="Plan", type="select")
    seats = factories.make_custom_field(team, label="Seats", type="number")
    ann = factories.make_contact(team, first_name="Ann", last_name="Lee", email="ann@example.com")
    fields.set_value(ann, plan, "Basic", owner.id)
    fields.set_value(ann, seats, "3", owner.id)
    raw = b"email,plan,seats\nann@example.com,Pro,12\n"
    job = _import(team, owner, raw, {"0": "email", "1": "cf_plan", "2": "cf_seats"}, run_jobs)
    fields.set_value(ann, plan, "Enterprise", owner.id)  # a person moved on since

    counts = revert.revert(job, owner.id)

    assert counts["kept"] == [{"id": ann.id, "name": "Ann Lee", "fields": ["Plan"]}]
    db.session.expire_all()
    assert _shown(team, ann) == {"plan": "Enterprise", "seats": "3"}


def test_a_value_the_import_did_not_change_is_left_alone(team, owner, run_jobs):
    plan = factories.make_custom_field(team, label="Plan", type="select")
    ann = factories.make_contact(team, first_name="Ann", email="ann@example.com")
    fields.set_value(ann, plan, "Pro", owner.id)
    job = _import(
        team, owner, b"email,plan\nann@example.com,Pro\n", {"0": "email", "1": "cf_plan"}, run_jobs
    )
    fields.set_value(ann, plan, "Basic", owner.id)
    counts = revert.revert(job, owner.id)
    assert counts["kept"] == []
    db.session.expire_all()
    assert _shown(team, ann) == {"plan": "Basic"}
