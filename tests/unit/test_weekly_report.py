"""The Monday pipeline email: opt-in, 08:00 in the member's zone, once per member per week."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crm.deals import services
from crm.extensions import db
from crm.models import OutboundEmail, Pipeline, WeeklyReportClaim
from crm.reports import weekly
from tests import factories

PARIS = ZoneInfo("Europe/Paris")
MONDAY_8 = datetime(2026, 6, 15, 8, 0, tzinfo=PARIS)  # a Monday


def emails() -> list[OutboundEmail]:
    return list(
        db.session.scalars(
            select(OutboundEmail)
            .where(OutboundEmail.kind == "weekly_report")
            .order_by(OutboundEmail.id)
        )
    )


@pytest.fixture
def rita(app):
    user = factories.make_user(name="Rita Rep", email="rita@example.com", team_name="Acme")
    user.timezone = "Europe/Paris"
    db.session.commit()
    team = factories.team_of(user)
    factories.make_member(team, name="Quiet Member", email="quiet@example.com")
    weekly.subscribe(team.id, user.id, True)
    return user


def test_sent_on_monday_at_eight_local_once_per_week(rita):
    assert weekly.send_weekly_reports(now=MONDAY_8 - timedelta(minutes=1)) == 0
    assert weekly.send_weekly_reports(now=MONDAY_8 + timedelta(minutes=2)) == 1
    assert weekly.send_weekly_reports(now=MONDAY_8 + timedelta(minutes=3)) == 0
    assert weekly.send_weekly_reports(now=MONDAY_8 + timedelta(days=1)) == 0  # Tuesday
    [row] = emails()
    assert row.to_addr == "rita@example.com"  # the member who did not opt in gets nothing
    assert row.subject == "Your pipeline this week · Acme"
    assert weekly.send_weekly_reports(now=MONDAY_8 + timedelta(days=7)) == 1  # next week
    claims = db.session.scalars(select(WeeklyReportClaim.iso_week)).all()
    assert sorted(claims) == ["2026-W25", "2026-W26"]


def test_the_email_has_the_forecast_last_week_and_what_needs_attention(rita):
    team = factories.team_of(rita)
    pipeline = db.session.scalars(db.select(Pipeline).where(Pipeline.team_id == team.id)).one()
    services.create_deal(
        team_id=team.id,
        title="Big renewal",
        stage=pipeline.stages[2],
        currency="EUR",
        value_minor=400_000,
        owner_id=rita.id,
        expected_close=MONDAY_8.date() + timedelta(days=3),
    )
    assert weekly.send_weekly_reports(now=MONDAY_8) == 1
    body = emails()[0].body_text
    assert "EUR: open €4,000 (1 deals), weighted €2,000" in body
    assert "Last week (08 Jun – 14 Jun), the whole team" in body
    assert "0 rotting, 1 without a next task" in body
    assert "Big renewal (Proposal)" in body


def test_opting_out_stops_it(rita):
    weekly.subscribe(factories.team_of(rita).id, rita.id, False)
    assert weekly.send_weekly_reports(now=MONDAY_8) == 0


def test_a_crash_before_the_commit_leaves_nothing_and_the_next_sweep_sends(rita, monkeypatch):
    real = weekly._queue
    calls = []

    def crash_once(*args):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("worker died")
        return real(*args)

    monkeypatch.setattr(weekly, "_queue", crash_once)
    assert weekly.send_weekly_reports(now=MONDAY_8) == 0
    assert db.session.scalar(select(func.count(WeeklyReportClaim.id))) == 0
    assert weekly.send_weekly_reports(now=MONDAY_8 + timedelta(minutes=1)) == 1
    assert len(emails()) == 1


def test_a_claim_taken_meanwhile_wins_over_a_stale_read(rita, monkeypatch):
    """Another worker committed its claim after this one read what was due."""
    due = weekly._due(MONDAY_8)
    assert weekly.send_weekly_reports(now=MONDAY_8) == 1
    monkeypatch.setattr(weekly, "_due", lambda now: due)
    assert weekly.send_weekly_reports(now=MONDAY_8) == 0
    assert len(emails()) == 1


def test_two_workers_sweeping_at_once_send_one_email(app, rita):
    barrier = threading.Barrier(3)
    results, errors = [], []

    def worker():
        try:
            with app.app_context():
                barrier.wait()
                results.append(weekly.send_weekly_reports(now=MONDAY_8))
                db.session.remove()
        except Exception as error:  # pragma: no cover - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results) == [0, 0, 1]
    assert len(emails()) == 1


def test_the_profile_opts_in_and_out(client, auth):
    user = factories.make_user(name="Pat", email="pat@example.com", team_name="Pat Co")
    auth.login(user.email)
    page = client.get("/settings/")
    assert "Weekly pipeline email" in page.text
    assert 'for="weekly"' in page.text or "<label" in page.text
    response = client.post("/reports/weekly-email", data={"weekly": "y"})
    assert response.status_code == 303
    team_id = factories.team_of(user).id
    assert weekly.is_subscribed(team_id, user.id)
    assert "checked" in client.get("/settings/").text
    client.post("/reports/weekly-email", data={})
    assert not weekly.is_subscribed(team_id, user.id)
