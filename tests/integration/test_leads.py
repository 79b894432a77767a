"""Web-to-lead forms, spam handling, leads and fair assignment, as a visitor and a team see them."""

from __future__ import annotations

import threading
import time
from collections import Counter

from sqlalchemy import func, select

from crm.extensions import db
from crm.leads import services
from crm.models import (
    Activity,
    Contact,
    ContactEmail,
    Deal,
    Lead,
    LeadRotation,
    LeadStatus,
    LeadSubmission,
    Membership,
    OutboundEmail,
    SubmissionStatus,
    Task,
)
from tests import factories


def _post(client, form, data, *, age=10, headers=None, **kw):
    """Post like the hosted page or snippet would, `age` seconds after the form was shown."""
    payload = {"_ts": services.stamp(form, at=time.time() - age), **data}
    return client.post(f"/f/{form.token}", data=payload, headers=headers or {}, **kw)


def _contacts(team_id, email):
    return db.session.scalar(
        select(func.count(ContactEmail.id)).where(
            ContactEmail.team_id == team_id, ContactEmail.email == email
        )
    )


def test_hosted_page_has_labelled_fields_and_a_fresh_stamp(client, owner):
    form = factories.make_lead_form(factories.team_of(owner))
    page = client.get(f"/f/{form.token}?utm_source=newsletter").get_data(as_text=True)
    assert '<label for="f-email">Email (required)</label>' in page
    assert 'name="_ts"' in page and 'name="url"' in page
    assert 'name="utm_source" value="newsletter"' in page
    assert client.get("/f/nosuchtoken").status_code == 404


def test_submission_creates_contact_lead_and_timeline_entry(client, owner, run_jobs):
    team = factories.team_of(owner)
    form = factories.make_lead_form(team, name="Pricing page", tag="website")
    response = _post(
        client,
        form,
        {
            "name": "Ada Lovelace",
            "email": "Ada@Example.com",
            "company": "Analytical Engines",
            "message": "Please call me",
            "utm_source": "google",
        },
    )
    assert response.status_code == 200
    assert "Thank you" in response.get_data(as_text=True)
    assert run_jobs()
    contact = db.session.scalars(select(Contact).where(Contact.team_id == team.id)).one()
    assert (contact.first_name, contact.last_name) == ("Ada", "Lovelace")
    assert contact.primary_email == "ada@example.com"
    assert contact.company.name == "Analytical Engines"
    assert [t.name for t in contact.tags] == ["website"]
    lead = db.session.scalars(select(Lead)).one()
    assert lead.status == LeadStatus.NEW and lead.source == "google"
    note = db.session.scalars(select(Activity).where(Activity.subject.like("Web form%"))).one()
    assert "Pricing page" in note.subject and "google" in note.subject
    assert note.body == "Please call me"


def test_same_email_updates_the_contact_and_never_overwrites_it(client, owner, run_jobs):
    team = factories.team_of(owner)
    existing = factories.make_contact(
        team, first_name="Grace", last_name="Hopper", email="grace@navy.example"
    )
    existing.owner_id = owner.id
    db.session.commit()
    form = factories.make_lead_form(team, fields=["name", "email", "city", "message"])
    response = _post(
        client,
        form,
        {"name": "Mallory Evil", "email": "grace@navy.example", "city": "Arlington"},
    )
    assert response.status_code == 200
    run_jobs()
    assert _contacts(team.id, "grace@navy.example") == 1
    db.session.expire_all()
    contact = db.session.get(Contact, existing.id)
    assert (contact.first_name, contact.last_name) == ("Grace", "Hopper")  # not renamed
    assert contact.owner_id == owner.id  # not reassigned
    assert contact.city == "Arlington"  # a blank filled in


def test_another_teams_contact_with_that_email_is_untouched(client, owner, run_jobs):
    team = factories.team_of(owner)
    other = factories.team_of(factories.make_user(team_name="Other"))
    theirs = factories.make_contact(other, first_name="Theirs", email="same@example.com")
    form = factories.make_lead_form(team)
    _post(client, form, {"name": "Visitor", "email": "same@example.com"})
    run_jobs()
    assert _contacts(team.id, "same@example.com") == 1
    db.session.expire_all()
    assert db.session.get(Contact, theirs.id).first_name == "Theirs"
    assert db.session.scalars(select(Lead)).one().team_id == team.id


def test_json_post_gets_cors_only_for_allowed_origins(client, owner):
    form = factories.make_lead_form(
        factories.team_of(owner), allowed_origins=["https://www.example.com"]
    )
    body = {"email": "json@example.com", "_ts": services.stamp(form, at=time.time() - 10)}
    ok = client.post(f"/f/{form.token}", json=body, headers={"Origin": "https://www.example.com"})
    assert ok.status_code == 200 and ok.json["ok"] is True
    assert ok.headers["Access-Control-Allow-Origin"] == "https://www.example.com"
    preflight = client.options(f"/f/{form.token}", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    bad = client.post(f"/f/{form.token}", json={"email": "not an email", "_ts": body["_ts"]})
    assert bad.status_code == 422 and bad.json["field"] == "email"
    assert client.post(f"/f/{form.token}", json=[1, 2]).status_code == 400


def test_redirect_only_to_an_allowed_origin(client, owner):
    team = factories.team_of(owner)
    data = {"name": "Site form", "fields": ["email"], "redirect_url": "https://evil.example/x"}
    try:
        services.save_form(team.id, None, data)
    except services.Invalid as error:
        assert error.field == "redirect_url"
    else:
        raise AssertionError("an open redirect was accepted")
    db.session.rollback()
    form = services.save_form(
        team.id,
        None,
        {
            **data,
            "redirect_url": "https://site.example/thanks",
            "allowed_origins": "https://site.example",
        },
    )
    response = _post(client, form, {"email": "r@example.com"})
    assert response.status_code == 303
    assert response.headers["Location"] == "https://site.example/thanks"

    # A URL a browser would read as another host is no URL on the allowed origin.
    for tricky in ("https://site.example\\@evil.example/", "https://site.example\t.evil.example/"):
        try:
            services.save_form(
                team.id,
                None,
                {**data, "redirect_url": tricky, "allowed_origins": "https://site.example"},
            )
        except services.Invalid as error:
            assert error.field == "redirect_url"
        else:
            raise AssertionError(f"{tricky!r} was accepted")
        db.session.rollback()
    # The origin is checked again when used: an origin removed later stops the redirect.
    form.allowed_origins = ["https://other.example"]
    db.session.commit()
    response = _post(client, form, {"email": "r2@example.com"})
    assert response.status_code == 200 and "Location" not in response.headers


def test_spam_is_kept_with_its_reason_and_can_be_released(client, auth, owner, run_jobs):
    team = factories.team_of(owner)
    form = factories.make_lead_form(team)
    _post(client, form, {"email": "bot1@example.com", "url": "http://buy.example"})
    _post(client, form, {"email": "fast@example.com"}, age=0)
    client.post(f"/f/{form.token}", data={"email": "nostamp@example.com"})
    rows = db.session.scalars(select(LeadSubmission).order_by(LeadSubmission.id)).all()
    assert [r.status for r in rows] == [SubmissionStatus.SPAM] * 3
    assert "honeypot" in rows[0].reason
    assert "after the form was shown" in rows[1].reason
    assert "No fill-time stamp" in rows[2].reason
    assert db.session.scalar(select(func.count(Contact.id))) == 0

    auth.login(owner.email)
    page = client.get("/settings/spam").get_data(as_text=True)
    assert "fast@example.com" in page and "honeypot" in page
    response = client.post(f"/settings/spam/{rows[1].id}/release")
    assert response.status_code == 303
    run_jobs()
    db.session.expire_all()
    released = db.session.get(LeadSubmission, rows[1].id)
    assert released.status == SubmissionStatus.PROCESSED and released.released_at is not None
    assert _contacts(team.id, "fast@example.com") == 1
    assert "fast@example.com" not in client.get("/settings/spam").get_data(as_text=True)


def test_bad_input_is_a_clear_4xx_and_nothing_is_kept(client, owner, app):
    form = factories.make_lead_form(factories.team_of(owner))
    missing = _post(client, form, {"name": "No Email"})
    assert missing.status_code == 422
    assert "Please fill this in." in missing.get_data(as_text=True)
    too_long = _post(client, form, {"email": "a@example.com", "message": "x" * 6000})
    assert too_long.status_code == 422
    app.config["LEADS_MAX_BYTES"] = 1024
    too_big = _post(client, form, {"email": "b@example.com", "message": "y" * 2000})
    assert too_big.status_code == 413
    assert db.session.scalar(select(func.count(LeadSubmission.id))) == 0


def test_rate_limit_per_address(client, owner, app):
    app.config["LEADS_RATE_PER_ADDRESS"] = "3/minute"
    form = factories.make_lead_form(factories.team_of(owner))
    codes = [_post(client, form, {"email": f"r{i}@example.com"}).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]


def test_round_robin_skips_away_members_and_tells_the_assignee(client, owner, run_jobs):
    team = factories.team_of(owner)
    anna, ben, cleo = (factories.make_member(team, name=n) for n in ("Anna", "Ben", "Cleo"))
    db.session.execute(
        Membership.__table__.update().where(Membership.user_id == ben.id).values(away=True)
    )
    db.session.commit()
    form = factories.make_lead_form(team, create_task=True)
    services.save_rule(
        team.id, form.id, {"mode": "round_robin", "pool": [anna.id, ben.id, cleo.id]}
    )
    for i in range(4):
        _post(client, form, {"email": f"p{i}@example.com"})
    run_jobs()
    leads = db.session.scalars(select(Lead).order_by(Lead.id)).all()
    assert [lead.assignee_id for lead in leads] == [anna.id, cleo.id, anna.id, cleo.id]
    assert all(lead.contact.owner_id == lead.assignee_id for lead in leads)
    mails = db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "lead_assigned"))
    assert Counter(m.to_addr for m in mails) == {anna.email: 2, cleo.email: 2}
    assert db.session.scalar(select(func.count(Task.id)).where(Task.assignee_id == anna.id)) == 2


def test_routing_by_field_value_with_a_fallback(client, owner, run_jobs):
    team = factories.team_of(owner)
    anna = factories.make_member(team, name="Anna", email="anna@team.example")
    form = factories.make_lead_form(team, fields=["email", "country"], required=["email"])
    services.save_rule(
        team.id,
        form.id,
        {
            "mode": "field",
            "field": "country",
            "mapping": "Germany = anna@team.example",
            "fallback_id": owner.id,
        },
    )
    _post(client, form, {"email": "de@example.com", "country": "germany"})
    _post(client, form, {"email": "fr@example.com", "country": "France"})
    run_jobs()
    leads = db.session.scalars(select(Lead).order_by(Lead.id)).all()
    assert [lead.assignee_id for lead in leads] == [anna.id, owner.id]


def test_team_rule_applies_to_forms_without_their_own(client, owner, run_jobs):
    team = factories.team_of(owner)
    anna = factories.make_member(team, name="Anna")
    services.save_rule(team.id, None, {"mode": "round_robin", "pool": [anna.id]})
    form = factories.make_lead_form(team)
    _post(client, form, {"email": "t@example.com"})
    run_jobs()
    assert db.session.scalars(select(Lead)).one().assignee_id == anna.id


def test_form_can_create_a_deal_in_a_stage(client, owner, run_jobs):
    team = factories.team_of(owner)
    pipeline = factories.make_pipeline(team)
    form = factories.make_lead_form(team, stage_id=pipeline.stages[1].id)
    _post(client, form, {"name": "Deal Person", "email": "deal@example.com"})
    run_jobs()
    deal = db.session.scalars(select(Deal)).one()
    assert deal.stage_id == pipeline.stages[1].id
    assert db.session.scalars(select(Lead)).one().deal_id == deal.id


def test_status_changes_and_conversion_on_the_leads_page(logged_in, owner):
    team = factories.team_of(owner)
    factories.make_pipeline(team)
    lead = factories.make_lead(team)
    other = factories.make_lead(team, assignee_id=owner.id)
    client = logged_in
    response = client.post(f"/leads/{lead.id}/status", data={"status": "disqualified"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).status == LeadStatus.NEW  # a reason is needed
    client.post(f"/leads/{lead.id}/status", data={"status": "disqualified", "reason": "Student"})
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).reason == "Student"
    response = client.post(f"/leads/{other.id}/convert")
    assert response.status_code == 303 and "/deals/" in response.headers["Location"]
    db.session.expire_all()
    converted = db.session.get(Lead, other.id)
    assert converted.status == LeadStatus.CONVERTED
    assert db.session.get(Deal, converted.deal_id).contacts[0].id == converted.contact_id


def test_leads_page_lists_unassigned_new_first_with_speed_to_lead(logged_in, owner):
    from datetime import timedelta

    from crm.kernel import timeline
    from crm.models import ActivityKind, utcnow

    team = factories.team_of(owner)
    answered = factories.make_lead(
        team,
        assignee_id=owner.id,
        status=LeadStatus.CONTACTED,
        arrived_at=utcnow() - timedelta(hours=1),
    )
    timeline.record(
        team_id=team.id,
        kind=ActivityKind.CALL,
        author_id=owner.id,
        contact_ids=[answered.contact_id],
        subject="Called",
        occurred_at=answered.arrived_at + timedelta(minutes=5),
    )
    db.session.commit()
    waiting = factories.make_lead(team)
    page = logged_in.get("/leads").get_data(as_text=True)
    assert page.index(f'id="lead-{waiting.id}"') < page.index(f'id="lead-{answered.id}"')
    assert "5 min" in page
    partial = logged_in.get("/leads", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial and f'id="lead-{waiting.id}"' in partial
    report = logged_in.get("/leads").get_data(as_text=True).split('id="speed-report"')[1]
    assert "Olive Owner" in report and "5 min" in report


def test_my_new_leads_on_the_dashboard(logged_in, owner):
    team = factories.team_of(owner)
    lead = factories.make_lead(team, assignee_id=owner.id)
    page = logged_in.get("/").get_data(as_text=True)
    tile = page.split('id="tile-my-new-leads"')[1].split("</section>")[0]
    assert lead.contact.name in tile


def test_away_toggle(logged_in, owner):
    logged_in.post("/leads/away", data={"away": "y"})
    membership = db.session.scalars(select(Membership).where(Membership.user_id == owner.id)).one()
    db.session.refresh(membership)
    assert membership.away is True


def test_admin_builds_a_form_and_gets_its_snippet(logged_in, owner):
    team = factories.team_of(owner)
    response = logged_in.post(
        "/settings/forms/new",
        data={
            "name": "Website",
            "fields": ["name", "email", "message"],
            "required": ["email"],
            "source": "website",
            "allowed_origins": "https://www.example.com",
            "mode": "round_robin",
            "pool": [str(owner.id)],
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    page = logged_in.get(response.headers["Location"]).get_data(as_text=True)
    form = db.session.scalars(
        select(services.LeadForm).where(services.LeadForm.team_id == team.id)
    ).one()
    assert f"/f/{form.token}" in page and "embed.js" in page
    assert form.hidden == {"source": "website"}
    assert services.rule_for(team.id, form.id).pool == [owner.id]
    bad = logged_in.post("/settings/forms/new", data={"name": "", "fields": ["email"]})
    assert bad.status_code == 422 and "Give the form a name." in bad.get_data(as_text=True)


def test_embed_script_carries_a_stamp_for_its_form(client, owner):
    form = factories.make_lead_form(factories.team_of(owner))
    response = client.get(f"/f/{form.token}/embed.js")
    assert response.mimetype == "application/javascript"
    assert f"/f/{form.token}" in response.get_data(as_text=True)


def test_100_concurrent_submissions_are_spread_evenly(app, owner, run_jobs):
    app.config["LEADS_RATE_PER_ADDRESS"] = "100000/minute"
    app.config["LEADS_RATE_PER_FORM"] = "100000/minute"
    team = factories.team_of(owner)
    pool = [factories.make_member(team, name=f"Rep {i}").id for i in range(4)]
    form = factories.make_lead_form(team)
    services.save_rule(team.id, form.id, {"mode": "round_robin", "pool": pool})
    token, stamp = form.token, services.stamp(form, at=time.time() - 10)
    start = threading.Barrier(10)
    codes: list[int] = []

    def visitor(batch):
        client = app.test_client()
        start.wait()
        for i in batch:
            response = client.post(f"/f/{token}", data={"_ts": stamp, "email": f"c{i}@example.com"})
            codes.append(response.status_code)

    threads = [
        threading.Thread(target=visitor, args=(range(t * 10, t * 10 + 10),)) for t in range(10)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes == [200] * 100
    run_jobs()
    db.session.expire_all()
    counts = Counter(db.session.scalars(select(Lead.assignee_id)))
    assert counts == {uid: 25 for uid in pool}
    assert db.session.scalar(select(LeadRotation.turn)) == 100


def test_a_trashed_contact_who_writes_again_comes_back(client, owner, run_jobs):
    team = factories.team_of(owner)
    contact = factories.make_contact(team, email="back@example.com")
    contact.trash(owner.id)
    db.session.commit()
    _post(client, factories.make_lead_form(team), {"email": "back@example.com"})
    run_jobs()
    assert _contacts(team.id, "back@example.com") == 1
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).deleted_at is None


def test_profile_has_the_away_toggle(logged_in):
    page = logged_in.get("/settings/").get_data(as_text=True)
    assert "skip me when new leads are handed out" in page
