"""Email-in processing: the corpus end to end, dedupe, threading, files, commands, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.inbound import filing, intake, processing
from crm.models import (
    Activity,
    ActivityContact,
    ActivityKind,
    AuditEvent,
    Company,
    Contact,
    ContactEmail,
    EmailAttachment,
    EmailMessage,
    InboundMessage,
    InboundStatus,
    NeverLog,
    OutboundEmail,
    Task,
)
from tests import factories

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
EXPECT = json.loads((Path(__file__).with_name("inbound_expect.json")).read_text())
DOMAIN = "in.rapport.test"
NEVER_LOG = ["newsletter-platform.example", "@bulkmail.example", "legal@northwind-traders.com"]


@pytest.fixture
def rep(app):
    """The corpus's user (rep@acme-sales.com) with a teammate and the corpus's never-log list."""
    user = factories.make_user(name="Rep Smith", email="rep@acme-sales.com", team_name="Acme")
    team = factories.team_of(user)
    factories.make_member(team, email="boss@acme-sales.com")
    for pattern in NEVER_LOG:
        db.session.add(NeverLog(team_id=team.id, pattern=pattern))
    db.session.commit()
    return user


def address(user, command: str = "") -> str:
    return f"{user.inbound_token}{'+' + command if command else ''}@{DOMAIN}"


def send(user, raw: bytes, run_jobs, command: str = "") -> InboundMessage:
    message = intake.accept(raw, envelope_to=address(user, command), envelope_from=None, via="smtp")
    run_jobs()
    db.session.expire_all()
    return db.session.get(InboundMessage, message.id)


def contact_by_email(team_id: int, email: str) -> Contact | None:
    return db.session.scalars(
        select(Contact)
        .join(ContactEmail, ContactEmail.contact_id == Contact.id)
        .where(ContactEmail.team_id == team_id, ContactEmail.email == email)
    ).first()


def activities_of(contact: Contact) -> list[Activity]:
    return db.session.scalars(
        select(Activity)
        .join(ActivityContact, ActivityContact.activity_id == Activity.id)
        .where(ActivityContact.contact_id == contact.id)
    ).all()


@pytest.mark.parametrize("name", sorted(p.stem for p in CORPUS.glob("*.eml")))
def test_corpus_message_lands_where_expected(name, rep, run_jobs):
    spec = json.loads((CORPUS / f"{name}.json").read_text())
    expect = EXPECT.get(name, {})
    team = factories.team_of(rep)
    for email in expect.get("existing", []):
        factories.make_contact(team, email=email)
    message = send(rep, (CORPUS / f"{name}.eml").read_bytes(), run_jobs)

    status = expect.get("status", "processed")
    assert message.status.value == status, (message.reason, message.error)
    assert message.reason or status == "processed"
    if status != "processed":
        assert db.session.scalar(select(func.count(Activity.id))) == 0
        return
    activity = db.session.get(Activity, message.activity_id)
    assert activity.kind == ActivityKind(expect.get("kind", "email"))
    for email in expect.get("logged_on", spec["participants"]):
        contact = contact_by_email(team.id, email)
        assert contact is not None, email
        assert activity in activities_of(contact), email
    email_row = db.session.get(EmailMessage, message.email_message_id)
    assert email_row.direction == spec["direction"]
    if "plan_subject" in spec:
        assert email_row.subject == spec["plan_subject"]
    elif "subject" in spec and not spec.get("calendar"):
        assert activity.subject == (spec["subject"] or "(no subject)")
    for snippet in _as_list(spec.get("visible_contains") or spec.get("plan_text_contains")):
        assert snippet in activity.body
    for snippet in _as_list(spec.get("folded_contains")):
        assert snippet in email_row.quoted
        assert snippet not in activity.body


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def mail(
    *,
    frm: str = "Rep Smith <rep@acme-sales.com>",
    to: str = "Jane Doe <jane@northwind.example>",
    cc: str | None = None,
    subject: str = "Pricing",
    body: str = "Here are the prices we talked about.",
    message_id: str | None = "<m1@acme-sales.com>",
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes]] = (),
) -> bytes:
    from email.message import EmailMessage as Mime
    from email.policy import SMTP

    msg = Mime()
    msg["From"] = frm
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = "Mon, 15 Jan 2024 10:00:00 +0000"
    if message_id:
        msg["Message-ID"] = message_id
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    for filename, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=filename)
    return msg.as_bytes(policy=SMTP)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def logged() -> int:
    """Timeline entries other than system lines (a company email-in creates gets one)."""
    return db.session.scalar(
        select(func.count()).select_from(Activity).where(Activity.kind != ActivityKind.SYSTEM)
    )


def test_bcc_outgoing_logs_on_every_recipient_and_creates_company(rep, run_jobs):
    message = send(rep, mail(cc="Marcus Lee <marcus@northwind.example>, a@gmail.com"), run_jobs)
    team = factories.team_of(rep)
    assert message.status == InboundStatus.PROCESSED
    jane = contact_by_email(team.id, "jane@northwind.example")
    marcus = contact_by_email(team.id, "marcus@northwind.example")
    gmail = contact_by_email(team.id, "a@gmail.com")
    assert (jane.first_name, jane.last_name) == ("Jane", "Doe")
    assert jane.company.domain == "northwind.example" and marcus.company_id == jane.company_id
    assert gmail is not None and gmail.company_id is None  # free-mail: never a company
    assert count(Company) == 1
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "company")).one()
    assert (audit.action, audit.entity_id) == ("create", jane.company_id)  # always audited
    activity = db.session.get(Activity, message.activity_id)
    assert {link.contact_id for link in activity.links} == {jane.id, marcus.id, gmail.id}
    assert activity.company_id == jane.company_id
    assert activity.data["direction"] == "outgoing"
    assert activity.data["email_message_id"] == message.email_message_id
    assert activity.body == "Here are the prices we talked about."


def test_contacts_are_matched_case_insensitively(rep, run_jobs):
    team = factories.team_of(rep)
    jane = factories.make_contact(team, email="jane@northwind.example")
    message = send(rep, mail(to="JANE@Northwind.Example"), run_jobs)
    assert activities_of(jane) == [db.session.get(Activity, message.activity_id)]
    assert count(Contact) == 1


def test_auto_create_off_sends_unknown_people_to_review_with_a_notice(rep, run_jobs):
    team = factories.team_of(rep)
    team.auto_create_contacts = False
    db.session.commit()
    message = send(rep, mail(), run_jobs)
    assert message.status == InboundStatus.REVIEW
    assert "creating contacts is off" in message.reason
    assert count(Contact) == 0 and count(Activity) == 0
    notice = db.session.scalars(select(OutboundEmail)).one()
    assert notice.to_addr == "rep@acme-sales.com" and "review" in notice.body_text


def test_auto_create_off_still_logs_on_known_contacts_only(rep, run_jobs):
    team = factories.team_of(rep)
    team.auto_create_contacts = False
    db.session.commit()
    jane = factories.make_contact(team, email="jane@northwind.example")
    message = send(rep, mail(cc="stranger@elsewhere.example"), run_jobs)
    assert message.status == InboundStatus.PROCESSED
    assert len(activities_of(jane)) == 1 and count(Contact) == 1


def test_same_message_bcced_by_two_teammates_is_logged_once(rep, run_jobs):
    team = factories.team_of(rep)
    boss = db.session.scalars(
        select(type(rep)).where(type(rep).email == "boss@acme-sales.com")
    ).one()
    raw = mail(cc="Boss <boss@acme-sales.com>")
    first = send(rep, raw, run_jobs)
    boss_copy = mail(frm="Boss <boss@acme-sales.com>", cc="Rep <rep@acme-sales.com>")
    second = send(boss, boss_copy, run_jobs)
    again = send(rep, raw, run_jobs)
    assert first.status == second.status == again.status == InboundStatus.PROCESSED
    assert count(EmailMessage) == 1 and logged() == 1
    assert second.activity_id == again.activity_id == first.activity_id
    assert "already logged" in second.reason
    jane = contact_by_email(team.id, "jane@northwind.example")
    assert len(activities_of(jane)) == 1


def test_processing_twice_does_nothing_twice(rep, run_jobs):
    message = send(rep, mail(), run_jobs)
    assert processing.process(message.id) == InboundStatus.PROCESSED
    assert logged() == 1


def test_replies_share_a_thread_key_in_any_order(rep, run_jobs):
    root = mail(message_id="<root@x>", subject="Plan")
    reply = mail(
        message_id="<reply@x>",
        subject="Re: Plan",
        headers={"In-Reply-To": "<root@x>", "References": "<root@x>"},
    )
    late = mail(
        message_id="<late@x>",
        subject="Re: Plan",
        headers={"In-Reply-To": "<reply@x>"},  # no References: found through the reply
    )
    for raw in (reply, root, late):
        send(rep, raw, run_jobs)
    keys = set(db.session.scalars(select(EmailMessage.thread_key)).all())
    assert keys == {"root@x"} or len(keys) == 1
    assert count(EmailMessage) == 3


def test_attachments_are_stored_once_per_hash_and_oversized_ones_listed(
    app, rep, run_jobs, tmp_path
):
    app.config["CRM_DATA_DIR"] = str(tmp_path)
    app.config["INBOUND_MAX_ATTACHMENT_BYTES"] = 1000
    pdf = b"%PDF-1.4 proposal" * 10
    send(rep, mail(attachments=[("a.pdf", pdf), ("big.pdf", b"x" * 2000)]), run_jobs)
    send(rep, mail(message_id="<m2@x>", attachments=[("copy.pdf", pdf)]), run_jobs)
    rows = db.session.scalars(select(EmailAttachment).order_by(EmailAttachment.id)).all()
    assert [(r.filename, r.stored) for r in rows] == [
        ("a.pdf", True),
        ("big.pdf", False),
        ("copy.pdf", True),
    ]
    assert rows[0].sha256 == rows[2].sha256
    folder = filing.attachment_path(rows[0].team_id, rows[0].sha256).parent
    assert sorted(p.name for p in folder.iterdir()) == [rows[0].sha256]
    assert filing.attachment_path(rows[0].team_id, rows[0].sha256).read_bytes() == pdf


def test_never_log_addresses_and_domains_are_left_out(rep, run_jobs):
    team = factories.team_of(rep)
    db.session.add(NeverLog(team_id=team.id, pattern="partner.example"))
    db.session.commit()
    message = send(rep, mail(cc="x@eu.partner.example, legal@northwind-traders.com"), run_jobs)
    assert message.status == InboundStatus.PROCESSED
    assert contact_by_email(team.id, "x@eu.partner.example") is None
    assert contact_by_email(team.id, "legal@northwind-traders.com") is None
    assert contact_by_email(team.id, "jane@northwind.example") is not None


def test_mail_only_to_never_logged_people_goes_to_review(rep, run_jobs):
    message = send(rep, mail(to="someone@newsletter-platform.example"), run_jobs)
    assert message.status == InboundStatus.REVIEW


def test_task_command_creates_a_follow_up_in_two_business_days(rep, run_jobs):
    from datetime import datetime

    message = send(rep, mail(subject="Contract"), run_jobs, command="task")
    assert message.status == InboundStatus.PROCESSED
    task = db.session.scalars(select(Task)).one()
    team = factories.team_of(rep)
    assert task.title == "Follow up: Contract"
    assert task.assignee_id == rep.id
    assert task.contact_id == contact_by_email(team.id, "jane@northwind.example").id
    assert task.due_at.weekday() < 5
    assert 2 <= (task.due_at.date() - datetime.now().date()).days <= 4


def test_deal_command_files_the_mail_on_that_deal(rep, run_jobs):
    team = factories.team_of(rep)
    deal = factories.make_deal(team)
    message = send(rep, mail(), run_jobs, command=f"deal-{deal.id}")
    assert db.session.get(Activity, message.activity_id).deal_id == deal.id


def test_deal_command_with_another_teams_deal_goes_to_review(rep, run_jobs):
    other = factories.make_deal(factories.team_of(factories.make_user()))
    message = send(rep, mail(), run_jobs, command=f"deal-{other.id}")
    assert message.status == InboundStatus.REVIEW
    assert f"#{other.id}" in message.reason
    assert count(Activity) == 0


def test_unknown_command_is_rejected(rep, run_jobs):
    message = send(rep, mail(), run_jobs, command="frobnicate")
    assert message.status == InboundStatus.REJECTED
    assert "unknown command" in message.reason


def test_mail_from_a_contact_with_one_open_deal_is_filed_on_it(rep, run_jobs):
    team = factories.team_of(rep)
    company = factories.make_company(team, domain="northwind.example")
    jane = factories.make_contact(team, email="jane@northwind.example", company_id=company.id)
    deal = factories.make_deal(team, contacts=[jane])
    message = send(rep, mail(), run_jobs)
    activity = db.session.get(Activity, message.activity_id)
    assert (activity.deal_id, activity.company_id) == (deal.id, company.id)
    factories.make_deal(team, contacts=[jane])  # two open deals: no guessing
    second = send(rep, mail(message_id="<m3@x>"), run_jobs)
    assert db.session.get(Activity, second.activity_id).deal_id is None


def test_auto_replies_and_bounces_are_rejected_without_a_notice(rep, run_jobs):
    message = send(rep, mail(headers={"Auto-Submitted": "auto-replied"}), run_jobs)
    assert (message.status, message.reason) == (InboundStatus.REJECTED, "auto-reply")
    assert count(OutboundEmail) == 0


def test_our_own_notice_coming_back_is_not_answered(app, rep, run_jobs):
    app.config["MAIL_FROM"] = "Rapport <rapport@crm.example>"
    raw = mail(frm=app.config["MAIL_FROM"], to="Rep <rep@acme-sales.com>")
    message = send(rep, raw, run_jobs)
    assert message.status == InboundStatus.REJECTED
    assert count(OutboundEmail) == 0


def test_unverified_sender_is_held_and_the_user_told(rep, run_jobs):
    message = send(rep, mail(frm="mallory@evil.example"), run_jobs)
    assert message.status == InboundStatus.UNVERIFIED
    assert "mallory@evil.example" in message.reason
    assert count(Contact) == 0
    assert db.session.scalars(select(OutboundEmail)).one().to_addr == "rep@acme-sales.com"


def test_a_crash_leaves_the_message_failed_and_retry_processes_it(rep, run_jobs, monkeypatch):
    def broken(raw):
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(processing, "parse_message", broken)
    message = send(rep, mail(), run_jobs)
    assert message.status == InboundStatus.FAILED
    assert "parser exploded" in message.error and message.attempts == 1
    monkeypatch.undo()
    processing.retry(message)
    run_jobs()
    db.session.expire_all()
    assert message.status == InboundStatus.PROCESSED and message.error is None
    assert message.attempts == 2 and logged() == 1


def test_sweep_re_enqueues_messages_stuck_in_received(rep, run_jobs, app):
    from datetime import timedelta

    from crm.models import utcnow

    message = intake.accept(mail(), envelope_to=address(rep), envelope_from=None, via="smtp")
    app.extensions["rq_connection"].flushall()  # the queue was lost
    message.updated_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    assert processing.sweep_received() == 1
    run_jobs()
    db.session.expire_all()
    assert message.status == InboundStatus.PROCESSED


def test_calendar_invite_becomes_a_meeting(rep, run_jobs):
    message = send(rep, (CORPUS / "calendar_invite.eml").read_bytes(), run_jobs)
    activity = db.session.get(Activity, message.activity_id)
    assert activity.kind == ActivityKind.MEETING
    assert activity.subject == "Rapport demo"
    assert activity.location == "https://meet.example/abc-defg-hij"
    assert activity.ends_at is not None and activity.ends_at > activity.occurred_at
