"""Email-in addresses belong to one membership (team + user), over a real SMTP conversation.

A member of two teams has one address per team; mail is filed in the address's team only; a
removed member's address is refused at RCPT time and nothing is stored. One envelope naming an
address many times stores one message, and an envelope names at most INBOUND_MAX_RECIPIENTS.
"""

from __future__ import annotations

import smtplib

import pytest
from sqlalchemy import func, select

from crm.auth import services as accounts
from crm.extensions import db
from crm.inbound.smtp import start_listener
from crm.models import (
    Contact,
    ContactEmail,
    InboundMessage,
    InboundStatus,
    Membership,
    Role,
)
from tests import factories
from tests.integration.test_inbound_processing import mail
from tests.servers import free_port

DOMAIN = "in.rapport.test"


@pytest.fixture
def listener(app):
    app.config["SMTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    controller = start_listener(app)
    yield controller
    controller.stop()


def membership(user, team) -> Membership:
    return db.session.scalars(
        select(Membership).where(Membership.user_id == user.id, Membership.team_id == team.id)
    ).one()


def address_in(user, team) -> str:
    return f"{membership(user, team).inbound_token}@{DOMAIN}"


def join(user, team, role: Role = Role.MEMBER) -> Membership:
    row = Membership(team_id=team.id, user_id=user.id, role=role)
    db.session.add(row)
    db.session.commit()
    return row


def smtp_send(listener, mail_from: str, rcpts: list[str], raw: bytes) -> dict:
    """One SMTP transaction; {recipient: (code, text)} for every recipient refused."""
    with smtplib.SMTP(listener.hostname, listener.port, timeout=30) as smtp:
        return smtp.sendmail(mail_from, rcpts, raw)


def contacts_with(email: str) -> list[tuple[int, int]]:
    """(team id, contact id) of every contact with this address, whatever the team."""
    return db.session.execute(
        select(Contact.team_id, Contact.id)
        .join(ContactEmail, ContactEmail.contact_id == Contact.id)
        .where(ContactEmail.email == email)
    ).all()


@pytest.fixture
def two_teams(app):
    """Olive owns team A; Bert owns team B; Olive is also a member of team B."""
    olive = factories.make_user(name="Olive", email="olive@acme.example", team_name="Team A")
    team_a = factories.team_of(olive)
    bert = factories.make_user(name="Bert", email="bert@bravo.example", team_name="Team B")
    team_b = factories.team_of(bert)
    join(olive, team_b)
    return olive, team_a, bert, team_b


def test_a_member_of_two_teams_has_one_address_per_team_and_mail_goes_to_that_team(
    listener, two_teams, run_jobs
):
    olive, team_a, _, team_b = two_teams
    olive.last_team_id = team_a.id  # the team she last opened: it must not matter
    db.session.commit()
    assert address_in(olive, team_a) != address_in(olive, team_b)

    raw = mail(frm=f"Olive <{olive.email}>", to="Dana <dana@client-b.example>", subject="B deal")
    assert smtp_send(listener, olive.email, [address_in(olive, team_b)], raw) == {}
    run_jobs()
    db.session.expire_all()

    stored = db.session.scalars(select(InboundMessage)).one()
    assert stored.team_id == team_b.id and stored.status == InboundStatus.PROCESSED
    assert [team for team, _ in contacts_with("dana@client-b.example")] == [team_b.id]


def test_the_profile_shows_the_address_of_the_team_being_worked_in(client, auth, two_teams):
    olive, team_a, _, team_b = two_teams
    auth.login(olive.email)
    client.post(f"/teams/{team_a.id}/switch")
    page_a = client.get("/settings/").get_data(as_text=True)
    client.post(f"/teams/{team_b.id}/switch")
    page_b = client.get("/settings/").get_data(as_text=True)
    assert address_in(olive, team_a) in page_a and address_in(olive, team_b) not in page_a
    assert address_in(olive, team_b) in page_b and address_in(olive, team_a) not in page_b


def test_regenerating_changes_only_the_current_teams_address(client, auth, two_teams):
    olive, team_a, _, team_b = two_teams
    auth.login(olive.email)
    client.post(f"/teams/{team_b.id}/switch")
    old_a, old_b = address_in(olive, team_a), address_in(olive, team_b)
    client.post("/settings/inbound-address")
    db.session.expire_all()
    assert address_in(olive, team_a) == old_a
    assert address_in(olive, team_b) != old_b


def test_a_removed_members_address_is_refused_at_rcpt_and_nothing_is_stored(listener, two_teams):
    olive, _, bert, team_b = two_teams
    old = address_in(olive, team_b)
    accounts.remove_member(membership(bert, team_b), membership(olive, team_b))

    with smtplib.SMTP(listener.hostname, listener.port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail("client@client-b.example")
        code, text = smtp.rcpt(old)
    assert code == 550 and b"No such Rapport address" in text
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_the_http_endpoint_follows_the_same_rule(client, two_teams):
    olive, team_a, bert, team_b = two_teams
    headers = {"Authorization": "Bearer inbound-test-secret"}
    raw = mail(frm=f"Olive <{olive.email}>")
    response = client.post(
        f"/inbound/email?to={address_in(olive, team_b)}", data=raw, headers=headers
    )
    assert response.status_code == 202
    assert db.session.get(InboundMessage, response.json["id"]).team_id == team_b.id

    old = address_in(olive, team_b)
    accounts.remove_member(membership(bert, team_b), membership(olive, team_b))
    response = client.post(f"/inbound/email?to={old}", data=raw, headers=headers)
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_one_address_named_fifty_times_in_one_envelope_is_stored_once(listener, two_teams):
    olive, team_a, _, _ = two_teams
    rcpt = address_in(olive, team_a)
    spellings = [rcpt, rcpt.upper(), f"<{rcpt}>"]
    raw = mail(frm=f"Olive <{olive.email}>")
    assert smtp_send(listener, olive.email, [spellings[i % 3] for i in range(50)], raw) == {}
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_an_envelope_names_at_most_the_recipient_cap(app, listener, two_teams):
    app.config["INBOUND_MAX_RECIPIENTS"] = 3
    olive, team_a, _, _ = two_teams
    rcpts = [f"{address_in(olive, team_a).split('@')[0]}+task{n}@{DOMAIN}" for n in range(5)]
    with smtplib.SMTP(listener.hostname, listener.port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail(olive.email)
        codes = [smtp.rcpt(r) for r in rcpts]
    assert [code for code, _ in codes] == [250, 250, 250, 452, 452]
    assert b"Too many recipients" in codes[3][1]


# --- The isolation walk, over SMTP ---------------------------------------------------------------


def test_smtp_isolation_walk(listener, two_teams, run_jobs):
    """Each way of reaching the wrong team is refused or placed where it belongs."""
    olive, team_a, bert, team_b = two_teams
    carla = factories.make_member(team_a, name="Carla", email="carla@acme.example")
    removed_address = address_in(carla, team_a)
    accounts.remove_member(membership(olive, team_a), membership(carla, team_a))

    refusals = {
        "a removed member's address": removed_address,
        "an unknown token": f"nosuchtoken99@{DOMAIN}",
        "another domain": f"{membership(olive, team_a).inbound_token}@elsewhere.example",
    }
    for what, rcpt in refusals.items():
        with smtplib.SMTP(listener.hostname, listener.port, timeout=30) as smtp:
            smtp.ehlo()
            smtp.mail("intruder@evil.example")
            code, _ = smtp.rcpt(rcpt)
        assert code == 550, what
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 0

    # Another team's address (Bert's, team B), written to by a team-A-only member: it is B's mail
    # (Bert forwarded or BCC'd it); nothing of it lands in team A.
    raw = mail(frm=f"Carla <{carla.email}>", to="Erin <erin@client.example>", subject="To B")
    assert smtp_send(listener, carla.email, [address_in(bert, team_b)], raw) == {}
    # Team A's forwarding address (Olive's), with a team-B member as the sender: held in team A
    # for Olive to review, no contact created anywhere.
    raw = mail(
        frm=f"Bert <{bert.email}>",
        to="Finn <finn@client.example>",
        subject="From B",
        message_id="<fromb@bravo.example>",
    )
    assert smtp_send(listener, bert.email, [address_in(olive, team_a)], raw) == {}
    run_jobs()
    db.session.expire_all()

    by_subject = {m.subject: m for m in db.session.scalars(select(InboundMessage))}
    to_b, from_b = by_subject["To B"], by_subject["From B"]
    assert (to_b.team_id, to_b.user_id) == (team_b.id, bert.id)
    assert to_b.status == InboundStatus.UNVERIFIED  # Carla is not Bert
    assert (from_b.team_id, from_b.user_id) == (team_a.id, olive.id)
    assert from_b.status == InboundStatus.UNVERIFIED  # Bert is not Olive
    assert contacts_with("erin@client.example") == []
    assert contacts_with("finn@client.example") == []


# --- The migration -------------------------------------------------------------------------------


def test_the_migration_gives_the_old_address_to_the_last_team_and_new_ones_elsewhere(app):
    """Existing addresses keep working where they filed mail; other teams get new addresses."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    downgrade(revision="0003e")
    try:
        with db.engine.begin() as conn:
            now = "2026-01-01 00:00:00"
            for team_id in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO team (id, name, currency, auto_create_contacts, created_at,"
                        " updated_at) VALUES (:id, :name, 'USD', true, :now, :now)"
                    ),
                    {"id": team_id, "name": f"T{team_id}", "now": now},
                )
            conn.execute(
                text(
                    'INSERT INTO "user" (id, email, name, password_hash, timezone, inbound_token,'
                    " session_version, last_team_id, digest_opt_out, created_at, updated_at)"
                    " VALUES (1, 'o@x.example', 'O', 'x', 'UTC', 'oldtoken1234', 1, 2, false,"
                    " :now, :now)"
                ),
                {"now": now},
            )
            for team_id in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO membership (id, team_id, user_id, role, created_at,"
                        " updated_at) VALUES (:id, :id, 1, 'member', :now, :now)"
                    ),
                    {"id": team_id, "now": now},
                )
        upgrade(revision="0004h2")
        with db.engine.connect() as conn:
            tokens = dict(conn.execute(text("SELECT team_id, inbound_token FROM membership")).all())
        assert tokens[2] == "oldtoken1234"
        assert tokens[1] != "oldtoken1234" and len(tokens[1]) >= 8
    finally:
        with db.engine.begin() as conn:
            for table in ("membership", '"user"', "team"):
                conn.execute(text(f"DELETE FROM {table}"))
        upgrade()
