"""Email-in in batches: one transaction per batch, a SAVEPOINT per message; the formatted view."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.extensions import db
from crm.inbound import filing, intake, processing
from crm.models import (
    Activity,
    ActivityKind,
    Contact,
    ContactEmail,
    EmailMessage,
    InboundMessage,
    InboundStatus,
)
from tests import factories
from tests.integration.test_inbound_processing import address, mail


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def logged() -> int:
    """Timeline entries other than system lines (a company email-in creates gets one)."""
    return db.session.scalar(
        select(func.count()).select_from(Activity).where(Activity.kind != ActivityKind.SYSTEM)
    )


def receive(user, raw: bytes) -> int:
    """Store without processing, as the listener does before the worker's batch picks it up."""
    return intake.accept(raw, envelope_to=address(user), envelope_from=None, via="smtp").id


def statuses(ids: list[int]) -> list[InboundStatus]:
    db.session.expire_all()
    return [db.session.get(InboundMessage, i).status for i in ids]


def rep_and_boss():
    rep = factories.make_user(name="Rep Smith", email="rep@acme-sales.com", team_name="Acme")
    boss = factories.make_member(factories.team_of(rep), email="boss@acme-sales.com")
    return rep, boss


def test_a_message_that_raises_fails_alone_and_the_batch_goes_on(app, monkeypatch):
    rep, _ = rep_and_boss()
    ids = [
        receive(rep, mail(message_id="<a@x>", subject="First")),
        receive(rep, mail(message_id="<b@x>", subject="Boom")),
        receive(rep, mail(message_id="<c@x>", subject="Third")),
    ]
    real_log = filing.log_email

    def log_or_explode(message, parsed, *args, **kwargs):
        if parsed.subject == "Boom":
            raise RuntimeError("parser bug on this one")
        return real_log(message, parsed, *args, **kwargs)

    monkeypatch.setattr(filing, "log_email", log_or_explode)
    assert processing.process_pending() == 3  # one batch
    assert statuses(ids) == [
        InboundStatus.PROCESSED,
        InboundStatus.FAILED,
        InboundStatus.PROCESSED,
    ]
    failed = db.session.get(InboundMessage, ids[1])
    assert "parser bug on this one" in failed.error
    assert logged() == 2
    assert {e.subject for e in db.session.scalars(select(EmailMessage))} == {"First", "Third"}

    # Retryable: once the bug is fixed, Retry logs it.
    monkeypatch.setattr(filing, "log_email", real_log)
    processing.retry(failed)
    processing.process(failed.id)
    assert statuses([ids[1]]) == [InboundStatus.PROCESSED]
    assert logged() == 3


def test_the_same_message_bccd_twice_in_one_batch_is_logged_once(app):
    rep, boss = rep_and_boss()
    ids = [
        receive(rep, mail(cc="Boss <boss@acme-sales.com>")),
        receive(boss, mail(frm="Boss <boss@acme-sales.com>", cc="Rep <rep@acme-sales.com>")),
        receive(rep, mail(cc="Boss <boss@acme-sales.com>")),
    ]
    assert processing.process_pending() == 3
    assert statuses(ids) == [InboundStatus.PROCESSED] * 3
    assert count(EmailMessage) == 1 and logged() == 1
    rows = [db.session.get(InboundMessage, i) for i in ids]
    assert len({row.activity_id for row in rows}) == 1
    assert all("already logged" in (row.reason or "") for row in rows[1:])


def test_a_new_person_in_two_mails_of_one_batch_becomes_one_contact(app):
    rep, _ = rep_and_boss()
    factories.team_of(rep).auto_create_contacts = True
    db.session.commit()
    to = "Nia New <nia@newcorp.example>"
    ids = [
        receive(rep, mail(message_id="<n1@x>", to=to, subject="Hello")),
        receive(rep, mail(message_id="<n2@x>", to=to, subject="Again")),
    ]
    assert processing.process_pending() == 2
    assert statuses(ids) == [InboundStatus.PROCESSED] * 2
    contacts = db.session.scalars(
        select(Contact)
        .join(ContactEmail, ContactEmail.contact_id == Contact.id)
        .where(ContactEmail.email == "nia@newcorp.example")
    ).all()
    assert len(contacts) == 1
    assert logged() == 2
    # last_activity_at moves forward once per batch (in id order), to the newest mail's date
    assert contacts[0].last_activity_at is not None
    assert contacts[0].last_activity_at.year == 2024


def test_replies_in_one_batch_share_a_thread_key_in_any_order(app):
    rep, _ = rep_and_boss()
    root = mail(message_id="<root@x>", subject="Plan")
    reply = mail(
        message_id="<reply@x>",
        subject="Re: Plan",
        headers={"In-Reply-To": "<root@x>", "References": "<root@x>"},
    )
    late = mail(message_id="<late@x>", subject="Re: Plan", headers={"In-Reply-To": "<reply@x>"})
    for raw in (reply, root, late):
        receive(rep, raw)
    assert processing.process_pending() == 3
    assert len(set(db.session.scalars(select(EmailMessage.thread_key)))) == 1


def test_a_claimed_message_is_not_processed_by_another_worker(app):
    rep, _ = rep_and_boss()
    inbound_id = receive(rep, mail())
    assert processing._claim(ids=[inbound_id]) == [inbound_id]
    # A second worker (or a sweep's job) finds nothing left to claim.
    assert processing.process_pending() == 0
    assert processing._claim(ids=[inbound_id]) == []
    processing.process_batch([inbound_id])
    assert statuses([inbound_id]) == [InboundStatus.PROCESSED]
    assert logged() == 1


# --- The formatted (HTML) part ------------------------------------------------------------------


def html_mail(owner, html: str) -> bytes:
    from email.message import EmailMessage as Mime
    from email.policy import SMTP

    msg = Mime()
    msg["From"] = f"Owner <{owner.email}>"
    msg["To"] = "Jane Doe <jane@northwind.example>"
    msg["Subject"] = "Formatted"
    msg["Message-ID"] = "<html-1@test>"
    msg.set_content("Plain version")
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes(policy=SMTP)


def test_the_formatted_part_is_shown_sanitized_in_a_sandbox(logged_in, owner, run_jobs):
    team = factories.team_of(owner)
    jane = factories.make_contact(team, first_name="Jane", email="jane@northwind.example")
    html = (
        "<p>Hello <b>Jane</b></p><script>alert('x')</script>"
        '<img src="https://tracker.example/p.gif" onerror="alert(1)">'
        '<a href="javascript:alert(2)">click</a>'
    )
    intake.accept(
        html_mail(owner, html), envelope_to=address(owner), envelope_from=None, via="smtp"
    )
    run_jobs()
    email = db.session.scalars(select(EmailMessage)).one()

    page = logged_in.get(f"/contacts/{jane.id}").get_data(as_text=True)
    frame_url = f"/emails/{email.id}/formatted"
    assert frame_url in page and "Show formatted" in page
    assert 'sandbox="' in page

    response = logged_in.get(frame_url)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<b>Jane</b>" in body
    for bad in ("<script", "alert(", "onerror", "javascript:"):
        assert bad not in body
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox") and "allow-scripts" not in csp
    assert "img-src data:" in csp and "default-src 'none'" in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_another_team_gets_404_for_the_formatted_part(client, auth, owner):
    email = factories.make_email_attachment(factories.team_of(owner)).email_message
    email.html = "<p>secret</p>"
    db.session.commit()
    other = factories.make_user(name="Other", email="other@example.com", team_name="Other")
    auth.login(other.email)
    assert client.get(f"/emails/{email.id}/formatted").status_code == 404
    auth.logout()
    auth.login(owner.email)
    assert client.get(f"/emails/{email.id}/formatted").status_code == 200
