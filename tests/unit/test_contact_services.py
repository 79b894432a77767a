"""Contact and company services: normalizing, duplicates, audit trail, trash and purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.companies import services as companies
from crm.contacts import services as contacts
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import companies as kernel_companies
from crm.models import Activity, ActivityKind, AuditEvent, Company, Contact, Lifecycle, utcnow
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def test_create_contact_normalizes_everything(team, owner):
    contact = contacts.create_contact(
        team.id,
        owner.id,
        {
            "first_name": " Ada ",
            "last_name": "Lovelace",
            "emails": [
                {"email": "Ada@Example.COM", "label": "work"},
                {"email": "", "label": "other"},
                {"email": "ada@example.com", "label": "personal"},
            ],
            "phones": [{"phone": "(415) 555-0132", "label": "mobile"}],
            "website": "ada.example.org",
            "social": {"linkedin": "linkedin.com/in/ada", "x": ""},
            "tags": ["VIP", "vip ", "Math"],
            "lifecycle": "customer",
        },
    )
    assert contact.sort_name == "ada lovelace"
    assert [e.email for e in contact.emails] == ["ada@example.com"]
    assert contact.phones[0].e164 == "+14155550132"
    assert contact.website == "https://ada.example.org"
    assert contact.social == {"linkedin": "https://linkedin.com/in/ada"}
    assert [t.name for t in contact.tags] == ["math", "vip"]
    assert contact.lifecycle == Lifecycle.CUSTOMER
    assert contact.owner_id == owner.id  # the creator owns it unless told otherwise
    audit = db.session.scalars(select(AuditEvent)).all()
    assert [a.action for a in audit] == ["create"]


@pytest.mark.parametrize(
    "data, field",
    [
        ({"first_name": "A", "emails": [{"email": "not-an-email"}]}, "emails.0"),
        ({"first_name": "A", "phones": [{"phone": "12"}]}, "phones.0"),
        ({"first_name": "A", "website": "javascript:alert(1)"}, "website"),
        ({"first_name": "A", "lifecycle": "vip"}, "lifecycle"),
        ({"first_name": "", "last_name": "", "emails": []}, "first_name"),
    ],
)
def test_bad_input_is_invalid_on_its_field(team, owner, data, field):
    with pytest.raises(Invalid) as error:
        contacts.create_contact(team.id, owner.id, data)
    assert error.value.field == field
    db.session.rollback()
    assert db.session.scalar(select(db.func.count(Contact.id))) == 0


def test_duplicate_email_names_the_existing_contact(team, owner):
    first = contacts.create_contact(
        team.id, owner.id, {"first_name": "Grace", "last_name": "Hopper", "emails": ["g@navy.mil"]}
    )
    with pytest.raises(Invalid) as error:
        contacts.create_contact(team.id, owner.id, {"first_name": "G", "emails": ["G@navy.mil"]})
    assert "Grace Hopper" in error.value.message
    assert error.value.existing_contact_id == first.id
    db.session.rollback()
    # Another team may have the same address.
    other = factories.team_of(factories.make_user())
    contacts.create_contact(other.id, None, {"first_name": "G", "emails": ["g@navy.mil"]})


def test_update_keeps_its_own_email_and_audits_each_change(team, owner):
    contact = contacts.create_contact(
        team.id, owner.id, {"first_name": "Olive", "emails": ["o@x.example"], "title": "CEO"}
    )
    contacts.update_contact(
        contact,
        owner.id,
        {"emails": ["o@x.example", "olive@home.example"], "title": "CEO", "lifecycle": "customer"},
    )
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "update")).one()
    assert event.changes == {
        "Emails": ["o@x.example", "o@x.example, olive@home.example"],
        "Stage": ["Lead", "Customer"],
    }
    entry = db.session.scalars(
        select(Activity).where(Activity.kind == ActivityKind.SYSTEM, Activity.subject == "update")
    ).one()
    assert "Stage: Lead → Customer" in entry.body
    assert entry.links[0].contact_id == contact.id
    # Nothing changed: nothing audited.
    contacts.update_contact(contact, owner.id, {"title": "CEO"})
    assert db.session.scalar(select(db.func.count(AuditEvent.id))) == 2


def test_owner_and_company_must_be_in_the_team(team, owner):
    stranger = factories.make_user()
    foreign = factories.make_company(factories.team_of(stranger))
    with pytest.raises(Invalid):
        contacts.create_contact(team.id, owner.id, {"first_name": "A", "owner_id": stranger.id})
    db.session.rollback()
    with pytest.raises(Invalid):
        contacts.create_contact(team.id, owner.id, {"first_name": "A", "company_id": foreign.id})


def test_delete_restore_and_purge(team, owner):
    contact = factories.make_contact(team)
    contacts.delete_contact(contact, owner.id)
    assert contact.deleted_at is not None
    contacts.restore_contact(contact, owner.id)
    assert contact.deleted_at is None
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["delete", "restore"]

    old = factories.make_contact(team)
    recent = factories.make_contact(team)
    contacts.delete_contact(old, owner.id)
    contacts.delete_contact(recent, owner.id)
    old.deleted_at = utcnow() - timedelta(days=31)
    db.session.commit()
    old_id, recent_id = old.id, recent.id
    assert contacts.purge_trash() == 1
    db.session.expunge_all()
    assert db.session.get(Contact, old_id) is None
    assert db.session.get(Contact, recent_id) is not None


def test_purge_is_a_declared_sweep(app):
    from crm.kernel import features

    assert contacts.purge_trash in features.sweeps(app)


def test_bulk_actions(team, owner):
    a, b = factories.make_contact(team), factories.make_contact(team)
    other = factories.make_contact(factories.team_of(factories.make_user()))
    count = contacts.bulk_update(team.id, owner.id, [a.id, b.id, other.id], "tag", "Hot")
    assert count == 2
    assert [t.name for t in a.tags] == ["hot"] and other.tags == []
    contacts.bulk_update(team.id, owner.id, [a.id], "stage", "prospect")
    assert a.lifecycle == Lifecycle.PROSPECT
    contacts.bulk_update(team.id, owner.id, [a.id, b.id], "delete")
    assert a.deleted_at and b.deleted_at
    with pytest.raises(Invalid):
        contacts.bulk_update(team.id, owner.id, [], "tag", "x")


def test_company_services(team, owner):
    company = companies.create_company(
        team.id,
        owner.id,
        {
            "name": "Initech",
            "website": "https://www.initech.example/about",
            "phone": "+1 415 555 0100",
        },
    )
    assert company.domain == "initech.example"
    assert company.phone == "+14155550100"
    companies.update_company(company, owner.id, {"industry": "Software"})
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "update")).one()
    assert event.changes == {"Industry": ["—", "Software"]}
    with pytest.raises(Invalid) as error:
        companies.update_company(company, owner.id, {"name": "  "})
    assert error.value.field == "name"
    db.session.rollback()
    same = kernel_companies.find_or_create(team.id, owner.id, "initech")
    assert same.id == company.id
    new = kernel_companies.find_or_create(team.id, owner.id, "Globex")
    assert new.id != company.id
    companies.delete_company(company, owner.id)
    assert db.session.get(Company, company.id).deleted_at is not None
    companies.restore_company(company, owner.id)
    assert company.deleted_at is None


def test_duplicate_email_of_a_trashed_contact_says_so(team, owner):
    gone = contacts.create_contact(
        team.id, owner.id, {"first_name": "Gone", "emails": ["g@x.example"]}
    )
    contacts.delete_contact(gone, owner.id)
    with pytest.raises(Invalid) as error:
        contacts.create_contact(team.id, owner.id, {"first_name": "New", "emails": ["g@x.example"]})
    assert "in the trash" in error.value.message and error.value.existing_in_trash
