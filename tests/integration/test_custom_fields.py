"""Custom fields: each type's validation, values on records (audit, timeline), settings."""

from __future__ import annotations

from datetime import date

import pytest

from crm.custom_fields import services as fields
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import custom_fields as values
from crm.models import Activity, AuditEvent, CustomValue
from tests import factories

GOOD = [
    ("text", "  Gold  ", "Gold", "Gold"),
    ("long_text", "line one\nline two", "line one\nline two", "line one\nline two"),
    ("number", "1,250", 1250, "1250"),
    ("number", "2.5", 2.5, "2.5"),
    ("money", "1,999.50", 199950, "USD 1,999.50"),
    ("date", "2027-03-01", date(2027, 3, 1), "2027-03-01"),
    ("checkbox", "yes", True, "Yes"),
    ("checkbox", "", False, "No"),
    ("select", "pro", "PRO", "Pro"),
    ("multi_select", "Enterprise, basic", ["BASIC", "ENT"], "Basic, Enterprise"),
    ("url", "example.com/pricing", "https://example.com/pricing", "https://example.com/pricing"),
    ("email", "Ann@Example.COM", "ann@example.com", "ann@example.com"),
    ("phone", "+1 415 555 2671", "+14155552671", "+1 415-555-2671"),
]

BAD = [
    ("text", "x" * 501, "At most 500"),
    ("number", "twelve", "not a number"),
    ("money", "12.345", "two decimals"),
    ("money", "lots", "not an amount"),
    ("date", "31/12/2027", "not a date"),
    ("checkbox", "maybe", "not yes or no"),
    ("select", "Platinum", "not an option"),
    ("multi_select", "Basic,Platinum", "not an option"),
    ("url", "not a url", "not a web address"),
    ("url", "javascript:alert(1)", "not a web address"),
    ("email", "ann@", "not a valid email"),
    ("phone", "12", "phone number"),
    ("member", "999999", "member of this team"),
]


def _field(team, kind, **data):
    data.setdefault("label", f"F {kind}")
    field = factories.make_custom_field(team, type=kind, **data)
    if kind in ("select", "multi_select"):
        # Fixed option ids make the expectations readable.
        field.options = [
            {"id": "BASIC", "label": "Basic"},
            {"id": "PRO", "label": "Pro"},
            {"id": "ENT", "label": "Enterprise"},
        ]
        db.session.commit()
    return field


@pytest.mark.parametrize(("kind", "given", "stored", "shown"), GOOD)
def test_each_type_stores_what_people_type(owner, kind, given, stored, shown):
    team = factories.team_of(owner)
    field = _field(team, kind)
    contact = factories.make_contact(team)
    fields.set_value(contact, field, given, owner.id)
    value = values.read(team.id, "contact", [contact.id]).get(contact.id, {}).get(field.id)
    if kind == "checkbox":  # an unticked box is no row at all
        value = bool(value)
    assert value == stored
    assert values.show(field, value) == shown
    # What the edit input shows parses back to the same value.
    assert values.parse(field, values.raw_for_input(field, value)) == stored


@pytest.mark.parametrize(("kind", "given", "message"), BAD)
def test_each_type_refuses_bad_input_with_a_message_on_its_field(owner, kind, given, message):
    team = factories.team_of(owner)
    field = _field(team, kind)
    contact = factories.make_contact(team)
    with pytest.raises(Invalid) as caught:
        fields.set_value(contact, field, given, owner.id)
    assert message in caught.value.message
    assert caught.value.field == f"cf_{field.key}"


def test_member_link_takes_only_this_teams_people(owner):
    team = factories.team_of(owner)
    field = _field(team, "member")
    contact = factories.make_contact(team)
    stranger = factories.make_user(email="x@example.com", team_name="Other")
    with pytest.raises(Invalid):
        fields.set_value(contact, field, str(stranger.id), owner.id)
    fields.set_value(contact, field, str(owner.id), owner.id)
    assert values.show(field, owner.id) == owner.name


def test_required_fields_refuse_empty(owner):
    team = factories.team_of(owner)
    field = factories.make_custom_field(team, label="Licences", type="number", required="y")
    with pytest.raises(Invalid, match="required"):
        fields.set_value(factories.make_contact(team), field, " ", owner.id)


def test_a_change_is_audited_and_on_the_timeline(owner):
    team = factories.team_of(owner)
    field = _field(team, "select", label="Plan")
    contact = factories.make_contact(team)
    fields.set_value(contact, field, "Basic", owner.id)
    fields.set_value(contact, field, "Pro", owner.id)
    assert fields.set_value(contact, field, "Pro", owner.id) is False
    events = db.session.query(AuditEvent).filter_by(entity_type="contact").order_by(AuditEvent.id)
    assert [e.changes for e in events][-1] == {"Plan": ["Basic", "Pro"]}
    lines = [a.body for a in db.session.query(Activity).order_by(Activity.id)]
    assert "changed Plan: Basic → Pro" in lines


def test_deal_values_land_on_the_deal_timeline(owner):
    team = factories.team_of(owner)
    field = factories.make_custom_field(team, label="Seats", type="number", entity="deal")
    deal = factories.make_deal(team)
    fields.set_value(deal, field, "12", owner.id)
    assert db.session.query(Activity).filter_by(deal_id=deal.id).count() == 1


def test_renaming_keeps_values_and_removing_an_option_moves_or_clears(owner):
    team = factories.team_of(owner)
    field = factories.make_custom_field(team, label="Plan", type="select")
    a, b = factories.make_contact(team), factories.make_contact(team)
    fields.set_value(a, field, "Basic", owner.id)
    fields.set_value(b, field, "Enterprise", owner.id)
    data = {"label": "Tier", "options": "Pro\nBasic"}
    assert [o["label"] for o in fields.removed_options(field, data["options"])] == ["Enterprise"]
    fields.update_field(field, data, owner.id, move_to="Pro")
    found = values.read(team.id, "contact", [a.id, b.id])
    assert values.show(field, found[a.id][field.id]) == "Basic"
    assert values.show(field, found[b.id][field.id]) == "Pro"
    assert [o["label"] for o in field.options] == ["Pro", "Basic"]
    fields.update_field(field, {"label": "Tier", "options": "Pro"}, owner.id)
    assert a.id not in values.read(team.id, "contact", [a.id])


def test_deleted_fields_go_to_the_trash_and_come_back(owner):
    team = factories.team_of(owner)
    field = factories.make_custom_field(team, label="Plan", type="text")
    contact = factories.make_contact(team)
    fields.set_value(contact, field, "Gold", owner.id)
    fields.delete_field(field, owner.id)
    assert values.fields_for(team.id, "contact") == []
    fields.restore_field(field, owner.id)
    assert values.read(team.id, "contact", [contact.id])[contact.id][field.id] == "Gold"


def test_the_purge_sweep_destroys_fields_trashed_30_days_ago(owner):
    from datetime import timedelta

    from crm.models import utcnow

    team = factories.team_of(owner)
    field = factories.make_custom_field(team, label="Plan", type="text")
    fields.set_value(factories.make_contact(team), field, "Gold", owner.id)
    fields.delete_field(field, owner.id)
    field.deleted_at = utcnow() - timedelta(days=31)
    db.session.commit()
    assert fields.purge_trash() == 1
    assert db.session.query(CustomValue).count() == 0


def test_condition_evaluator_for_automation(owner):
    team = factories.team_of(owner)
    plan = factories.make_custom_field(team, label="Plan", type="select")
    renewal = factories.make_custom_field(team, label="Renewal", type="date")
    contact = factories.make_contact(team)
    fields.set_value(contact, plan, "Pro", owner.id)
    fields.set_value(contact, renewal, "2027-01-15", owner.id)
    assert values.matches(contact, plan, "eq", "Pro")
    assert values.matches(contact, plan, "any", "Basic,Pro")
    assert not values.matches(contact, plan, "empty", True)
    assert values.matches(contact, renewal, "max", "2027-02-01")
    assert not values.matches(contact, renewal, "min", "2027-02-01")


# --- pages -------------------------------------------------------------------------------------


def test_admin_adds_a_field_in_settings_with_inline_errors(logged_in, owner):
    page = logged_in.get("/settings/custom-fields")
    assert page.status_code == 200 and "Custom fields" in page.text
    bad = logged_in.post(
        "/settings/custom-fields",
        data={"entity": "contact", "label": "Plan", "type": "select", "options": ""},
    )
    assert bad.status_code == 422 and "Add at least one option" in bad.text
    good = logged_in.post(
        "/settings/custom-fields",
        data={"entity": "contact", "label": "Plan", "type": "select", "options": "Basic\nPro"},
    )
    assert good.status_code == 303
    assert "Plan" in logged_in.get("/settings/custom-fields").text


def test_members_cannot_manage_fields(client, auth, owner):
    member = factories.make_member(factories.team_of(owner), email="m@example.com")
    auth.login(member.email)
    assert client.get("/settings/custom-fields").status_code == 403


def test_inline_edit_saves_and_refuses_bad_input(logged_in, owner, htmx_headers):
    team = factories.team_of(owner)
    field = factories.make_custom_field(team, label="Seats", type="number")
    contact = factories.make_contact(team)
    show = logged_in.get(f"/contacts/{contact.id}")
    assert "Seats" in show.text and f'id="cf-{field.id}-{contact.id}"' in show.text
    edit = logged_in.get(f"/custom/{field.id}/{contact.id}/edit", headers=htmx_headers)
    assert edit.status_code == 200 and "<html" not in edit.text and 'name="value"' in edit.text
    bad = logged_in.post(
        f"/custom/{field.id}/{contact.id}", data={"value": "many"}, headers=htmx_headers
    )
    assert bad.status_code == 422 and "not a number" in bad.text
    good = logged_in.post(
        f"/custom/{field.id}/{contact.id}", data={"value": "12"}, headers=htmx_headers
    )
    assert good.status_code == 200 and ">12<" in good.text.replace(" ", "").replace("\n", "")
    assert "field-changed" in good.headers.get("HX-Trigger", "")


def test_text_and_select_values_are_searchable(owner, run_jobs):
    from crm.search import services as search

    search.get_engine().rebuild([])
    team = factories.team_of(owner)
    plan = factories.make_custom_field(team, label="Plan", type="select", options="Zircon\nBasic")
    contact = factories.make_contact(team)
    run_jobs()
    fields.set_value(contact, plan, "Zircon", owner.id)
    run_jobs()
    found = search.search(team.id, None, "zircon")
    assert [(hit.kind, hit.id) for hit in found.hits] == [("contact", contact.id)]
