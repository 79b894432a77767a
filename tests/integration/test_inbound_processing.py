"""Email-in processing: the corpus end to end, dedupe, threading, attachments, commands, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.inbound import intake, processing
from crm.models import (
    Activity,
    ActivityContact,
    ActivityKind,
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
