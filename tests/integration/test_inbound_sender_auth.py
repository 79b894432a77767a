"""Sender authentication of email-in, over a real SMTP conversation (issue 19, item 20).

A From header is easy to fake: a stranger can send "From: <the rep's address>" to the rep's
email-in address and have contacts created. Verdicts come from a trusted receiving server's
Authentication-Results or from checking DKIM here; a team can require them.
"""

from __future__ import annotations

import smtplib

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.inbound.smtp import start_listener
from crm.models import Contact, ContactEmail, InboundMessage, InboundStatus
from tests import factories
from tests.dkimkeys import make_signer
from tests.integration.test_inbound_processing import mail
from tests.servers import free_port


@pytest.fixture(scope="module")
def signer():
    return make_signer()


@pytest.fixture
def listener(app, signer):
    app.config["SMTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    app.config["INBOUND_DKIM_DNSFUNC"] = signer.dns  # no DNS here: the test key's resolver
    controller = start_listener(app)
    yield controller
    controller.stop()


@pytest.fixture
def strict_owner(owner):
    """The owner (olive@example.com) of a team that requires DKIM or DMARC for new contacts."""
    factories.team_of(owner).require_sender_auth = True
    db.session.commit()
    return owner


def send(listener, owner, raw: bytes) -> InboundMessage:
    with smtplib.SMTP(listener.hostname, listener.port, timeout=30) as smtp:
        assert smtp.sendmail(owner.email, [f"{owner.inbound_token}@in.rapport.test"], raw) == {}
    return db.session.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()


def contact_for(email: str) -> Contact | None:
    return db.session.scalars(
        select(Contact).join(ContactEmail).where(ContactEmail.email == email)
    ).first()


def test_a_forged_sender_is_held_instead_of_creating_contacts(
    listener, strict_owner, logged_in, run_jobs
):
    raw = mail(frm=f"Olive <{strict_owner.email}>", to="Mallory <mallory@evil.example>")
    stored = send(listener, strict_owner, raw)
    run_jobs()
    db.session.expire_all()

    assert stored.status == InboundStatus.UNVERIFIED
    assert "did not pass DKIM or DMARC" in stored.reason
    assert contact_for("mallory@evil.example") is None
    review = logged_in.get("/inbound/review").get_data(as_text=True)
    assert "Sender authentication: no DKIM signature" in review
    assert "sender not verified" in review


def test_a_signed_message_of_the_from_domain_creates_its_contacts(
    listener, strict_owner, signer, logged_in, run_jobs
):
    raw = signer.sign(
        mail(frm=f"Olive <{strict_owner.email}>", to="Dana <dana@client.example>"), "example.com"
    )
    stored = send(listener, strict_owner, raw)
    run_jobs()
    db.session.expire_all()

    assert stored.auth["dkim"] == "pass" and stored.auth["passed"]
    assert stored.status == InboundStatus.PROCESSED
    assert contact_for("dana@client.example") is not None
    log = logged_in.get("/settings/inbound").get_data(as_text=True)
    assert "DKIM pass (dkim check): sender&#39;s domain verified" in log


def test_a_signature_of_another_domain_does_not_count(listener, strict_owner, signer, run_jobs):
    raw = signer.sign(
        mail(frm=f"Olive <{strict_owner.email}>", to="Dana <dana@client.example>"), "evil.example"
    )
    stored = send(listener, strict_owner, raw)
    run_jobs()
    db.session.expire_all()
    assert stored.auth["dkim"] == "pass" and not stored.auth["passed"]
    assert stored.status == InboundStatus.UNVERIFIED
    assert contact_for("dana@client.example") is None


def test_known_contacts_are_still_logged_without_authentication(listener, strict_owner, run_jobs):
    dana = factories.make_contact(factories.team_of(strict_owner), email="dana@client.example")
    raw = mail(frm=f"Olive <{strict_owner.email}>", to="Dana <dana@client.example>")
    stored = send(listener, strict_owner, raw)
    run_jobs()
    db.session.expire_all()
    assert stored.status == InboundStatus.PROCESSED and dana.id


def test_authentication_results_count_only_from_the_configured_server(
    app, listener, strict_owner, run_jobs
):
    app.config["INBOUND_AUTHSERV_ID"] = "mx.rapport.example"
    header = (
        "{id}; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com;"
        " dmarc=pass header.from=example.com"
    )
    forged = mail(
        frm=f"Olive <{strict_owner.email}>",
        to="Erin <erin@client.example>",
        message_id="<forged@x>",
        headers={"Authentication-Results": header.format(id="mx.evil.example")},
    )
    trusted = mail(
        frm=f"Olive <{strict_owner.email}>",
        to="Finn <finn@client.example>",
        message_id="<trusted@x>",
        headers={"Authentication-Results": header.format(id="mx.rapport.example")},
    )
    forged_row, trusted_row = (
        send(listener, strict_owner, forged),
        send(listener, strict_owner, trusted),
    )
    run_jobs()
    db.session.expire_all()
    assert forged_row.status == InboundStatus.UNVERIFIED and not forged_row.auth["passed"]
    assert trusted_row.status == InboundStatus.PROCESSED
    assert (trusted_row.auth["spf"], trusted_row.auth["dmarc"]) == ("pass", "pass")
    assert contact_for("erin@client.example") is None
    assert contact_for("finn@client.example") is not None


def test_teams_that_do_not_require_it_still_create_contacts(listener, owner, run_jobs):
    raw = mail(frm=f"Olive <{owner.email}>", to="Gus <gus@client.example>")
    stored = send(listener, owner, raw)
    run_jobs()
    db.session.expire_all()
    assert stored.status == InboundStatus.PROCESSED and stored.auth["passed"] is False
    assert contact_for("gus@client.example") is not None


def test_the_team_setting_is_a_labelled_checkbox_that_saves(logged_in, owner):
    page = logged_in.get("/settings/team").get_data(as_text=True)
    assert "Require a passing DKIM or DMARC before creating new contacts from mail" in page
    response = logged_in.post(
        "/settings/team",
        data={
            "name": "Acme Sales",
            "currency": "USD",
            "auto_create_contacts": "y",
            "require_sender_auth": "y",
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert factories.team_of(owner).require_sender_auth is True
