"""Web-form submissions at volume: the request only stores the post; the batched job makes the
contacts and leads once, survives a dead worker, keeps failures visible, and emits the events
automation and webhooks hear."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select, update

from crm.automation import engine
from crm.extensions import db
from crm.leads import processing, services
from crm.models import (
    Activity,
    AutomationRule,
    Contact,
    ContactEmail,
    Lead,
    LeadStatus,
    LeadSubmission,
    SubmissionStatus,
    utcnow,
)
from crm.webhooks import services as webhooks
from tests import factories


def _post(client, form, data):
    payload = {"_ts": services.stamp(form, at=time.time() - 10), **data}
    return client.post(f"/f/{form.token}", data=payload)


def _statuses() -> list[SubmissionStatus]:
    db.session.expire_all()
    return list(db.session.scalars(select(LeadSubmission.status).order_by(LeadSubmission.id)))


def _count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def test_a_post_is_answered_at_once_and_becomes_a_lead_in_the_job(client, owner, run_jobs):
    form = factories.make_lead_form(factories.team_of(owner))
    response = _post(client, form, {"name": "Ada Lovelace", "email": "ada@example.com"})
    assert response.status_code == 200 and "Thank you" in response.get_data(as_text=True)
    # Stored, not yet processed: the visitor did not wait for the contact, lead or indexing.
    assert _statuses() == [SubmissionStatus.PENDING]
    assert _count(Contact) == 0
    run_jobs()
    assert _statuses() == [SubmissionStatus.PROCESSED]
    lead = db.session.scalars(select(Lead)).one()
    assert lead.contact.primary_email == "ada@example.com"
    assert db.session.scalars(select(LeadSubmission)).one().contact_id == lead.contact_id


def test_the_same_new_email_twice_in_one_batch_is_one_contact(client, owner, run_jobs):
    team = factories.team_of(owner)
    form = factories.make_lead_form(team)
    _post(client, form, {"name": "Bo First", "email": "bo@example.com", "message": "one"})
    _post(client, form, {"name": "Bo Second", "email": "BO@example.com", "message": "two"})
    run_jobs()
    assert _statuses() == [SubmissionStatus.PROCESSED] * 2
    assert db.session.scalar(select(func.count(ContactEmail.id))) == 1
    assert _count(Lead) == 1
    notes = db.session.scalars(select(Activity.body).where(Activity.subject.like("Web form%")))
    assert sorted(notes) == ["one", "two"]
    assert db.session.scalars(select(Contact)).one().first_name == "Bo"


def test_a_failure_keeps_its_reason_on_the_forms_page_and_can_be_tried_again(
    client, auth, owner, run_jobs, monkeypatch
):
    team = factories.team_of(owner)
    form = factories.make_lead_form(team)
    real = processing._follow_up

    def flaky(batch, lead_form, lead, contact, now):
        if contact.primary_email == "bad@example.com":
            raise RuntimeError("the deals service is down")
        return real(batch, lead_form, lead, contact, now)

    monkeypatch.setattr(processing, "_follow_up", flaky)
    for name in ("good", "bad", "fine"):
        _post(client, form, {"email": f"{name}@example.com"})
    run_jobs()
    assert _statuses() == [
        SubmissionStatus.PROCESSED,
        SubmissionStatus.FAILED,
        SubmissionStatus.PROCESSED,
    ]
    assert _count(Lead) == 2  # the failed one left nothing half-made
    failed = db.session.scalars(
        select(LeadSubmission).where(LeadSubmission.status == SubmissionStatus.FAILED)
    ).one()
    assert "the deals service is down" in failed.error

    auth.login(owner.email)
    page = client.get(f"/settings/forms/{form.id}").get_data(as_text=True)
    section = page.split('id="submissions"')[1]
    assert "2 became leads" in section and "1 failed" in section
    assert "bad@example.com" in section and "the deals service is down" in section
    monkeypatch.setattr(processing, "_follow_up", real)
    response = client.post(f"/settings/spam/{failed.id}/release")
    assert response.status_code == 303
    run_jobs()
    assert _statuses() == [SubmissionStatus.PROCESSED] * 3
    assert _count(Lead) == 3


class WorkerKilled(BaseException):
    """What a killed worker looks like to the code: nothing after it runs, nothing commits."""


def test_a_worker_killed_mid_batch_is_resumed_by_the_sweep_without_doubles(
    app, client, owner, run_jobs, monkeypatch
):
    team = factories.team_of(owner)
    form = factories.make_lead_form(team)
    for i in range(3):
        _post(client, form, {"email": f"k{i}@example.com"})
    real, calls = processing._one, []

    def dies_on_the_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise WorkerKilled
        return real(*args)

    monkeypatch.setattr(processing, "_one", dies_on_the_second)
    with pytest.raises(WorkerKilled):
        processing.process_pending()
    db.session.rollback()
    monkeypatch.setattr(processing, "_one", real)
    assert _statuses() == [SubmissionStatus.PROCESSING] * 3
    assert _count(Contact) == 0  # the dead batch committed nothing

    # Within the lease the rows stay its; after it, the sweep hands them back.
    processing.sweep()
    assert _statuses() == [SubmissionStatus.PROCESSING] * 3
    db.session.execute(
        update(LeadSubmission).values(claimed_at=utcnow() - processing.STALE_CLAIM * 2)
    )
    db.session.commit()
    assert processing.sweep() == 3
    run_jobs()
    assert _statuses() == [SubmissionStatus.PROCESSED] * 3
    assert _count(Contact) == 3 and _count(Lead) == 3


def test_a_submission_that_keeps_killing_its_worker_is_failed_with_a_reason(client, owner):
    form = factories.make_lead_form(factories.team_of(owner))
    _post(client, form, {"email": "poison@example.com"})
    db.session.execute(
        update(LeadSubmission).values(
            status=SubmissionStatus.PROCESSING,
            attempts=processing.MAX_ATTEMPTS,
            claimed_at=utcnow() - timedelta(hours=1),
        )
    )
    db.session.commit()
    processing.sweep()
    row = db.session.scalars(select(LeadSubmission)).one()
    db.session.refresh(row)
    assert row.status == SubmissionStatus.FAILED and "worker stopped" in row.error


class Receiver:
    def __init__(self):
        self.bodies: list[dict] = []
        self.signed: list[tuple[str, bytes]] = []  # (Rapport-Signature header, raw body)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.bodies.append(json.loads(body))
                receiver.signed.append((self.headers.get("Rapport-Signature", ""), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_form_and_lead_events_reach_automation_and_webhooks(client, owner, run_jobs, receiver):
    team = factories.team_of(owner)
    assert {"form.submitted", "lead.created", "lead.status_changed"} <= set(webhooks.event_names())
    webhooks.create_webhook(
        team.id,
        owner.id,
        url=receiver.url,
        events=["form.submitted", "lead.created", "lead.status_changed"],
    )
    db.session.add(
        AutomationRule(
            team_id=team.id,
            name="Tag web leads",
            trigger="form_submitted",
            trigger_config={},
            conditions=[],
            actions=[{"type": "add_tag", "value": "from-web"}],
        )
    )
    db.session.commit()
    form = factories.make_lead_form(team, name="Pricing")
    _post(client, form, {"email": "ev@example.com", "utm_source": "ads"})
    run_jobs()
    contact = db.session.scalars(select(Contact)).one()
    assert [t.name for t in contact.tags] == ["from-web"]
    by_event = {body["event"]: body for body in receiver.bodies}
    assert set(by_event) == {"form.submitted", "lead.created"}
    submitted = by_event["form.submitted"]
    assert submitted["data"]["id"] == contact.id and submitted["changes"]["form"] == "Pricing"
    assert by_event["lead.created"]["changes"]["source"] == "ads"

    lead = db.session.scalars(select(Lead)).one()
    services.set_status(lead, LeadStatus.CONTACTED, actor_id=owner.id)
    run_jobs()
    changed = [b for b in receiver.bodies if b["event"] == "lead.status_changed"]
    assert [c["changes"]["status"] for c in changed] == [["new", "contacted"]]
    assert changed[0]["actor_id"] == owner.id


def test_a_status_change_fires_a_lead_status_rule(owner, run_jobs):
    team = factories.team_of(owner)
    contact = factories.make_contact(team, owner_id=owner.id)
    lead = factories.make_lead(team, contact=contact)
    rule = AutomationRule(
        team_id=team.id,
        name="Qualified",
        trigger="lead_status_changed",
        trigger_config={},
        conditions=[{"field": "lead_status", "op": "eq", "value": "qualified"}],
        actions=[{"type": "add_tag", "value": "hot"}],
    )
    db.session.add(rule)
    db.session.commit()
    services.set_status(lead, LeadStatus.CONTACTED)
    run_jobs()
    assert engine.load(db.session, team.id, "contact", contact.id).tags == []
    services.set_status(lead, LeadStatus.QUALIFIED)
    run_jobs()
    db.session.expire_all()
    assert [t.name for t in db.session.get(Contact, contact.id).tags] == ["hot"]


def test_two_job_workers_at_once_spread_100_leads_evenly_without_doubles(app, client, owner):
    app.config["LEADS_RATE_PER_ADDRESS"] = "100000/minute"
    app.config["LEADS_RATE_PER_FORM"] = "100000/minute"
    team = factories.team_of(owner)
    pool = [factories.make_member(team, name=f"Rep {i}").id for i in range(4)]
    form = factories.make_lead_form(team)
    services.save_rule(team.id, form.id, {"mode": "round_robin", "pool": pool})
    for i in range(100):
        assert _post(client, form, {"email": f"w{i}@example.com"}).status_code == 200
    start, done = threading.Barrier(2), []

    def worker():
        with app.app_context():
            start.wait()
            done.append(processing.process_pending(limit=10))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert sum(done) == 100
    assert _statuses() == [SubmissionStatus.PROCESSED] * 100
    assert _count(Contact) == 100
    counts = dict(
        db.session.execute(select(Lead.assignee_id, func.count()).group_by(Lead.assignee_id)).all()
    )
    assert counts == {uid: 25 for uid in pool}


def test_an_unreachable_queue_still_thanks_the_visitor_and_the_sweep_catches_up(
    client, owner, run_jobs, monkeypatch
):
    form = factories.make_lead_form(factories.team_of(owner))

    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(processing.queue, "enqueue_once", down)
    response = _post(client, form, {"email": "later@example.com"})
    assert response.status_code == 200 and "Thank you" in response.get_data(as_text=True)
    assert run_jobs() == 0 and _statuses() == [SubmissionStatus.PENDING]
    monkeypatch.undo()
    assert processing.sweep() == 1
    run_jobs()
    assert _statuses() == [SubmissionStatus.PROCESSED]
