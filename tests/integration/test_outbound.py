"""Email out: compose from a record, delivered over real SMTP on loopback, retried once, logged
on the timeline; replies through email-in thread; templates refuse unknown fields; one-click
unsubscribe works without a session."""

from __future__ import annotations

import email
import smtplib
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from crm.extensions import db
from crm.inbound.smtp import start_listener
from crm.models import (
    Activity,
    ActivityContact,
    Contact,
    EmailMessage,
    EmailTemplate,
    OutboundEmail,
    OutboxStatus,
    utcnow,
)
from crm.outbound import services
from crm.sweeps import run_sweeps
from tests import factories
from tests.integration.test_inbound_processing import mail
from tests.integration.test_outbox import Inbox
from tests.servers import free_port


@pytest.fixture
def smtp_server(app):
    """The receiving mail server: aiosmtpd on a free loopback port."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_USE_TLS=False)
    yield inbox
    controller.stop()


def _parsed(envelope):
    return email.message_from_bytes(envelope.original_content, policy=policy.default)


def _jane(owner, **fields):
    team = factories.team_of(owner)
    company = factories.make_company(team, name="Northwind")
    return factories.make_contact(
        team,
        first_name="Jane",
        last_name="Doe",
        email="jane@northwind.example",
        company_id=company.id,
        **fields,
    )


def _send(client, contact, **data):
    form = {"to": [contact.id], "sender": "me", "subject": "Pricing", "body": "Hi"} | data
    return client.post(f"/contacts/{contact.id}/email", data=form)


def test_compose_from_a_contact_delivers_text_and_html_with_reply_to(
    logged_in, owner, smtp_server, run_jobs
):
    jane = _jane(owner)
    colleague = factories.make_contact(
        factories.team_of(owner),
        first_name="Sam",
        email="sam@northwind.example",
        company_id=jane.company_id,
    )
    page = logged_in.get(f"/contacts/{jane.id}/email")
    assert page.status_code == 200 and b"sam@northwind.example" in page.data
    response = _send(
        logged_in,
        jane,
        cc=[colleague.id],
        subject="Pricing for {{ company.name }}",
        body="Hi {{ contact.first_name }},\n\nthe **new** prices <b>attached</b>.",
    )
    assert response.status_code == 303
    assert run_jobs() >= 1

    assert len(smtp_server.messages) == 1
    envelope = smtp_server.messages[0]
    assert sorted(envelope.rcpt_tos) == ["jane@northwind.example", "sam@northwind.example"]
    message = _parsed(envelope)
    assert message["Subject"] == "Pricing for Northwind"
    assert "olive@example.com" in message["From"]
    assert "olive@example.com" in message["Reply-To"]
    assert f"{owner.inbound_token}@in.rapport.test" in message["Reply-To"]
    assert "jane@northwind.example" in message["To"] and "sam@" in message["Cc"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hi Jane," in text
    assert "<strong>new</strong>" in html and "&lt;b&gt;attached&lt;/b&gt;" in html

    logged = db.session.scalars(select(EmailMessage)).one()
    assert logged.message_id == message["Message-ID"].strip("<>") and logged.direction == "outgoing"
    on_timelines = db.session.scalars(
        select(ActivityContact.contact_id).where(ActivityContact.activity_id == logged.activity_id)
    ).all()
    assert sorted(on_timelines) == sorted([jane.id, colleague.id])
    activity = db.session.get(Activity, logged.activity_id)
    assert activity.company_id == jane.company_id
    db.session.expire_all()
    assert db.session.get(Contact, jane.id).last_contacted_at is not None

    shown = logged_in.get(f"/contacts/{jane.id}")
    assert b"Pricing for Northwind" in shown.data and b"outbound-status" in shown.data
    assert b">Sent<" in shown.data


def test_compose_from_a_deal_logs_on_the_deal(logged_in, owner, run_jobs):
    jane = _jane(owner)
    deal = factories.make_deal(factories.team_of(owner))
    deal.contacts.append(jane)
    db.session.commit()
    response = logged_in.post(
        f"/deals/{deal.id}/email",
        data={"to": [jane.id], "sender": "me", "subject": "{{ deal.title }}", "body": "Hello"},
    )
    assert response.status_code == 303
    activity = db.session.scalars(select(Activity)).one()
    assert activity.deal_id == deal.id and activity.subject == deal.title


def test_smtp_down_is_retried_and_sent_once(app, logged_in, owner, run_jobs, smtp_server):
    jane = _jane(owner)
    working_port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = free_port()  # nobody listens here
    _send(logged_in, jane)
    run_jobs()
    row = db.session.scalars(select(OutboundEmail)).one()
    db.session.refresh(row)
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert b"Last try" in logged_in.get(f"/contacts/{jane.id}").data

    app.config["MAIL_PORT"] = working_port
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    run_sweeps()
    run_jobs()
    run_sweeps()
    run_jobs()
    assert len(smtp_server.messages) == 1
    assert _parsed(smtp_server.messages[0])["Message-ID"] == row.message_id


def test_failure_shows_the_servers_reply(app, logged_in, owner):
    jane = _jane(owner)
    _send(logged_in, jane)
    row = db.session.scalars(select(OutboundEmail)).one()
    row.status, row.last_error = OutboxStatus.FAILED, "SMTPRecipientsRefused: 550 no such user"
    db.session.commit()
    page = logged_in.get(f"/contacts/{jane.id}").data
    assert b"Failed" in page and b"550 no such user" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"subject": ""}, b"Write a subject."),
        ({"body": "Hi {{ contact.nickname }}"}, b"Unknown merge field: nickname"),
        ({"body": "{{ contact.__class__ }}"}, b"may not reach"),
        ({"to": []}, b"Choose at least one recipient."),
    ],
)
def test_compose_errors_are_shown_and_nothing_is_queued(logged_in, owner, data, message):
    jane = _jane(owner)
    response = _send(logged_in, jane, **data)
    assert response.status_code == 422 and message in response.data
    assert db.session.scalars(select(OutboundEmail)).first() is None


def test_someone_elses_contact_cannot_be_a_recipient(logged_in, owner):
    jane = _jane(owner)
    other = factories.make_user(name="T", email="t@example.com", team_name="Theirs")
    stranger = factories.make_contact(factories.team_of(other), email="s@x.example")
    response = _send(logged_in, jane, to=[stranger.id])
    assert response.status_code == 422
    assert db.session.scalars(select(OutboundEmail)).first() is None


@pytest.fixture
def listener(app):
    app.config["SMTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    controller = start_listener(app)
    yield controller
    controller.stop()


def test_a_reply_through_email_in_threads_and_updates_last_replied(
    logged_in, owner, smtp_server, listener, run_jobs
):
    jane = _jane(owner)
    _send(logged_in, jane, subject="Pricing")
    run_jobs()
    sent = _parsed(smtp_server.messages[0])
    raw = mail(
        frm="Jane Doe <jane@northwind.example>",
        to=f"Olive <{owner.email}>, <{owner.inbound_token}@in.rapport.test>",
        subject="Re: Pricing",
        body="Sounds good.",
        message_id="<reply-1@northwind.example>",
        headers={"In-Reply-To": sent["Message-ID"], "References": sent["Message-ID"]},
    )
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        smtp.sendmail("jane@northwind.example", [f"{owner.inbound_token}@in.rapport.test"], raw)
    run_jobs()
    reply = db.session.scalars(
        select(EmailMessage).where(EmailMessage.direction == "incoming")
    ).one()
    assert reply.thread_key == sent["Message-ID"].strip("<>")
    run_sweeps()
    db.session.expire_all()
    assert db.session.get(Contact, jane.id).last_replied_at is not None
    page = logged_in.get(f"/contacts/{jane.id}").data
    assert b"Sounds good." in page and b"2 in thread" in page


# Templates -------------------------------------------------------------------------------


def test_template_with_an_unknown_field_is_refused_by_name(logged_in):
    response = logged_in.post(
        "/email/templates",
        data={"name": "Hello", "subject": "Hi", "body": "Dear {{ contact.nick }}"},
    )
    assert response.status_code == 422 and b"Unknown merge field: nick" in response.data
    assert db.session.scalars(select(EmailTemplate)).first() is None


def test_template_preview_against_a_contact_and_its_fallback(logged_in, owner):
    jane = _jane(owner)
    nobody = factories.make_contact(factories.team_of(owner), last_name="X")
    nobody.first_name = ""  # the factory always names people
    db.session.commit()
    response = logged_in.post(
        "/email/templates",
        data={
            "name": "Hello",
            "subject": "News for {{ company.name | default('you') }}",
            "body": 'Hi {{ contact.first_name | default("there") }}',
        },
    )
    assert response.status_code == 303
    template = db.session.scalars(select(EmailTemplate)).one()
    preview = logged_in.get(f"/email/templates/{template.id}/preview?contact_id={jane.id}")
    assert b"News for Northwind" in preview.data and b"Hi Jane" in preview.data
    preview = logged_in.get(f"/email/templates/{template.id}/preview?contact_id={nobody.id}")
    assert b"News for you" in preview.data and b"Hi there" in preview.data
    compose = logged_in.get(f"/contacts/{jane.id}/email?template={template.id}")
    assert (
        b"default(&#34;there&#34;)" in compose.data or b"default(&quot;there&quot;)" in compose.data
    )


def test_a_teammates_personal_template_is_private(app, client, auth, owner):
    team = factories.team_of(owner)
    mate = factories.make_member(team)
    personal = EmailTemplate(team_id=team.id, owner_id=owner.id, name="Mine", subject="s", body="b")
    db.session.add(personal)
    db.session.commit()
    auth.login(mate.email)
    assert client.get(f"/email/templates/{personal.id}").status_code == 404
    assert b"Mine" not in client.get("/email/templates").data


# Opt-out ---------------------------------------------------------------------------------


def test_unsubscribe_link_works_without_a_session(app, client, owner):
    jane = _jane(owner)
    with app.test_request_context():
        headers = services.unsubscribe_headers(jane.team_id, jane.id)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = headers["List-Unsubscribe"].split(">", 1)[0].lstrip("<")
    assert (
        link.startswith("http://localhost/unsubscribe/")
        and "mailto:" in headers["List-Unsubscribe"]
    )
    path = link.removeprefix("http://localhost")

    page = client.get(path)  # no login
    assert page.status_code == 200 and b"Unsubscribe" in page.data
    db.session.expire_all()
    assert db.session.get(Contact, jane.id).opted_out_at is None  # GET changes nothing

    done = client.post(path, data={"List-Unsubscribe": "One-Click"})  # no CSRF token, RFC 8058
    assert done.status_code == 200
    db.session.expire_all()
    assert db.session.get(Contact, jane.id).opted_out_at is not None


def test_a_forged_unsubscribe_token_is_404(client, owner):
    jane = _jane(owner)
    assert client.get(f"/unsubscribe/{jane.id}").status_code == 404
    assert client.post("/unsubscribe/WzEsMV0.forged").status_code == 404


# Bulk send -------------------------------------------------------------------------------


def _tagged_people(owner, n=4):
    from crm.kernel import tags

    team = factories.team_of(owner)
    (tag,) = tags.find_or_create(team.id, ["newsletter"])
    people = []
    for i in range(n):
        person = factories.make_contact(team, first_name=f"P{i}", email=f"p{i}@client.example")
        person.tags.append(tag)
        people.append(person)
    db.session.commit()
    return tag, people


def test_bulk_send_previews_skips_and_delivers_with_unsubscribe_headers(
    app, logged_in, owner, smtp_server, run_jobs
):
    tag, people = _tagged_people(owner)
    people[1].opted_out_at = utcnow()
    people[2].emails[0].bouncing_at = utcnow()
    nobody = factories.make_contact(factories.team_of(owner), first_name="Nomail", email=False)
    nobody.tags.append(tag)
    db.session.commit()
    form = {"tag": tag.id, "subject": "News for {{ contact.first_name }}", "body": "Hi"}

    preview = logged_in.post("/email/bulk", data=form | {"action": "preview"})
    assert preview.status_code == 200
    assert b"2 people will get this mail" in preview.data
    assert b"1 opted out" in preview.data and b"1 bouncing" in preview.data
    assert b"1 no address" in preview.data and b"News for P0" in preview.data
    assert db.session.scalars(select(OutboundEmail)).first() is None  # a preview sends nothing

    app.config["OUTBOUND_RATE_PER_MINUTE"] = 6000
    response = logged_in.post("/email/bulk", data=form | {"action": "send"})
    assert response.status_code == 303
    page_url = response.headers["Location"]
    progress = logged_in.get(page_url, headers={"HX-Request": "true"})
    assert b"<html" not in progress.data and b'hx-trigger="every 2s"' in progress.data

    deadline = utcnow() + timedelta(seconds=30)
    while len(smtp_server.messages) < 2 and utcnow() < deadline:
        run_jobs()  # the rows are spaced by the rate: wait until they are due
    assert sorted(e.rcpt_tos[0] for e in smtp_server.messages) == [
        "p0@client.example",
        "p3@client.example",
    ]
    message = _parsed(smtp_server.messages[0])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        "/unsubscribe/" in message["List-Unsubscribe"] and "mailto:" in message["List-Unsubscribe"]
    )

    done = logged_in.get(page_url)
    assert b"every 2s" not in done.data and b"Done 100%" in done.data
    assert b"Skipped: opted out" in done.data and b"Skipped: no address" in done.data
    assert b"Skipped: bouncing" in done.data
    timeline = logged_in.get(f"/contacts/{people[0].id}").data
    assert b"News for P0" in timeline


def test_bulk_rows_are_spaced_by_the_teams_rate(app, logged_in, owner):
    tag, people = _tagged_people(owner, n=3)
    app.config["OUTBOUND_RATE_PER_MINUTE"] = 60  # one a second
    logged_in.post(
        "/email/bulk", data={"tag": tag.id, "subject": "s", "body": "b", "action": "send"}
    )
    times = db.session.scalars(
        select(OutboundEmail.next_attempt_at).order_by(OutboundEmail.id)
    ).all()
    assert [round((t - times[0]).total_seconds()) for t in times] == [0, 1, 2]


def test_bulk_template_error_names_the_field_and_sends_nothing(logged_in, owner):
    tag, _ = _tagged_people(owner, n=1)
    response = logged_in.post(
        "/email/bulk",
        data={"tag": tag.id, "subject": "s", "body": "{{ deal.nope }}", "action": "send"},
    )
    assert response.status_code == 422 and b"Unknown merge field: nope" in response.data
    assert db.session.scalars(select(OutboundEmail)).first() is None


# Sequences -------------------------------------------------------------------------------


def _sequence(owner, logged_in):
    from crm.models import Sequence

    team = factories.team_of(owner)
    template = EmailTemplate(
        team_id=team.id, name="Intro", subject="Hello {{ contact.first_name }}", body="Hi!"
    )
    db.session.add(template)
    db.session.commit()
    response = logged_in.post(
        "/email/sequences",
        data={
            "name": "Follow up",
            "step-1-kind": "email",
            "step-1-template": template.id,
            "step-1-delay": 0,
            "step-2-kind": "email",
            "step-2-template": template.id,
            "step-2-delay": 2,
            "step-3-kind": "task",
            "step-3-task": "Call them",
            "step-3-delay": 1,
        },
    )
    assert response.status_code == 303
    return db.session.scalars(select(Sequence)).one()


def _due_now():
    from crm.models import Enrolment

    for enrolment in db.session.scalars(select(Enrolment)):
        if enrolment.next_at is not None:
            enrolment.next_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def _enrolment():
    from crm.models import Enrolment

    db.session.expire_all()
    return db.session.scalars(select(Enrolment)).one()


def test_a_sequence_sends_each_step_once_threaded_then_creates_a_task(
    logged_in, owner, smtp_server, run_jobs
):
    from crm.models import EnrolmentStep, Task
    from crm.outbound import sequences

    jane = _jane(owner)
    sequence = _sequence(owner, logged_in)
    page = logged_in.post(f"/email/sequences/{sequence.id}", data={"contact_id": jane.id})
    assert b"Enrolled 1." in page.data

    assert sequences.advance() == 1  # step 1 is due at once
    assert sequences.advance() == 0  # step 2 waits two business days
    run_jobs()
    assert len(smtp_server.messages) == 1
    first = _parsed(smtp_server.messages[0])
    assert first["Subject"] == "Hello Jane" and first["List-Unsubscribe-Post"]
    assert _enrolment().next_at > utcnow() + timedelta(days=1)

    _due_now()
    assert sequences.advance() == 1
    run_jobs()
    second = _parsed(smtp_server.messages[1])
    assert second["In-Reply-To"] == first["Message-ID"]  # the follow-up threads under the first

    # A second worker that already did step 3 wins: this one does nothing.
    _due_now()
    db.session.add(EnrolmentStep(enrolment_id=_enrolment().id, position=2, done_at=utcnow()))
    db.session.commit()
    assert sequences.advance() == 0
    assert db.session.scalars(select(Task)).first() is None
    db.session.execute(EnrolmentStep.__table__.delete().where(EnrolmentStep.position == 2))
    db.session.commit()
    assert sequences.advance() == 1
    task = db.session.scalars(select(Task)).one()
    assert task.title.startswith("Call them") and task.contact_id == jane.id
    assert _enrolment().status == "finished"
    assert len(smtp_server.messages) == 2

    shown = logged_in.get(f"/email/sequences/{sequence.id}")
    assert b"Finished" in shown.data and b"3 of 3" in shown.data


def test_a_sequence_stops_when_the_contact_replies(
    logged_in, owner, smtp_server, listener, run_jobs
):
    from crm.outbound import sequences

    jane = _jane(owner)
    sequence = _sequence(owner, logged_in)
    logged_in.post(f"/email/sequences/{sequence.id}", data={"contact_id": jane.id})
    sequences.advance()
    run_jobs()
    sent = _parsed(smtp_server.messages[0])
    raw = mail(
        frm="Jane Doe <jane@northwind.example>",
        to=f"Olive <{owner.email}>",
        subject="Re: Hello Jane",
        body="Not now, thanks.",
        message_id="<reply-2@northwind.example>",
        headers={"In-Reply-To": sent["Message-ID"]},
    )
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        smtp.sendmail("jane@northwind.example", [f"{owner.inbound_token}@in.rapport.test"], raw)
    run_jobs()
    _due_now()
    run_sweeps()  # replies are noted first, then the enrolment stops
    run_jobs()
    enrolment = _enrolment()
    assert enrolment.status == "stopped" and enrolment.stop_reason == "replied"
    assert len(smtp_server.messages) == 1
    assert b"Stopped: replied" in logged_in.get(f"/email/sequences/{sequence.id}").data


@pytest.mark.parametrize("why", ["opted out", "deal won"])
def test_a_sequence_stops_on_opt_out_or_a_won_deal(logged_in, owner, why):
    from crm.models import DealStatus, Enrolment
    from crm.outbound import sequences

    jane = _jane(owner)
    sequence = _sequence(owner, logged_in)
    deal = factories.make_deal(factories.team_of(owner))
    sequences.enrol(sequence, [jane.id], owner, deal_id=deal.id)
    if why == "opted out":
        jane.opted_out_at = utcnow()
    else:
        deal.status = DealStatus.WON
    db.session.commit()
    sequences.advance()
    enrolment = db.session.scalars(select(Enrolment)).one()
    assert enrolment.status == "stopped" and enrolment.stop_reason == why
    assert db.session.scalars(select(OutboundEmail)).first() is None


def _dsn(to_user: str, failed: str) -> bytes:
    boundary = "dsn-boundary"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\n"
        f"To: {to_user}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "Your message could not be delivered.\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def test_a_bounce_through_email_in_marks_the_address_and_bulk_skips_it(
    logged_in, owner, listener, run_jobs
):
    jane = _jane(owner)
    with smtplib.SMTP(listener.hostname, listener.port) as smtp:
        smtp.sendmail(
            "", [f"{owner.inbound_token}@in.rapport.test"], _dsn(owner.email, jane.primary_email)
        )
    run_jobs()
    run_sweeps()
    db.session.expire_all()
    jane = db.session.get(Contact, jane.id)
    assert jane.emails[0].bouncing_at is not None
    from crm.outbound.bulk import skip_reason

    assert skip_reason(jane) == "bouncing"


def test_a_team_sender_can_be_chosen_as_from(logged_in, owner, smtp_server, run_jobs):
    bad = logged_in.post("/settings/email-out", data={"sender": "not an address"})
    assert bad.status_code == 422 and b"Write an address like" in bad.data
    ok = logged_in.post("/settings/email-out", data={"sender": "Sales <sales@acme.example>"})
    assert ok.status_code == 303
    jane = _jane(owner)
    assert b"sales@acme.example" in logged_in.get(f"/contacts/{jane.id}/email").data
    _send(logged_in, jane, sender="team")
    run_jobs()
    message = _parsed(smtp_server.messages[0])
    assert "sales@acme.example" in message["From"] and "olive@example.com" in message["Reply-To"]
