"""The report pages: page and partial, links to the records behind a figure, CSV, dashboard."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from crm.deals import services
from crm.extensions import db
from crm.models import LostReason, Pipeline, utcnow
from tests import factories

SLUGS = ("forecast", "win-loss", "funnel", "activity", "health")


@pytest.fixture
def sales(owner):
    team = factories.team_of(owner)
    pipeline = db.session.scalars(db.select(Pipeline).where(Pipeline.team_id == team.id)).one()
    return team, pipeline


def _deal(team, stage, title, value, currency="USD", **kw):
    return services.create_deal(
        team_id=team.id, title=title, stage=stage, currency=currency, value_minor=value, **kw
    )


@pytest.mark.parametrize("slug", SLUGS)
def test_each_report_is_a_page_and_a_partial(logged_in, sales, slug):
    page = logged_in.get(f"/reports/{slug}")
    assert page.status_code == 200
    assert "<html" in page.text and 'id="report"' in page.text
    assert '<label for="report-owner">' in page.text
    assert "How this is counted" in page.text
    partial = logged_in.get(f"/reports/{slug}?period=last_month", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "<html" not in partial.text
    assert partial.text.lstrip().startswith('<div id="report"')
    assert "HX-Request" in partial.headers["Vary"]


def test_a_forecast_figure_opens_the_deals_behind_it(logged_in, sales):
    team, pipeline = sales
    today = utcnow().date()
    soon = today + timedelta(days=1) if (today + timedelta(days=1)).month == today.month else today
    _deal(team, pipeline.stages[2], "Closing soon", 120_000, expected_close=soon)
    _deal(team, pipeline.stages[2], "In euros", 50_000, currency="EUR", expected_close=soon)
    _deal(team, pipeline.stages[2], "Next year", 70_000, expected_close=today + timedelta(days=400))
    page = logged_in.get("/reports/forecast?period=this_month")
    assert "$1,200.00" in page.text and "€500.00" in page.text
    assert "$600.00" in page.text  # weighted at Proposal's 50 %
    link = unescape(re.search(r'href="(/deals/list\?[^"]*currency=USD[^"]*)">1<', page.text)[1])
    deals = logged_in.get(link)
    assert "Closing soon" in deals.text
    assert "In euros" not in deals.text and "Next year" not in deals.text


def test_win_loss_csv_has_the_tables_numbers_and_is_formula_safe(logged_in, sales):
    team, pipeline = sales
    reason = LostReason(team_id=team.id, name="=HYPERLINK(1)")
    db.session.add(reason)
    db.session.commit()
    services.mark_won(_deal(team, pipeline.stages[0], "Won one", 100_050))
    services.mark_lost(_deal(team, pipeline.stages[0], "Lost one", 20_000), reason=reason)
    response = logged_in.get("/reports/win-loss.csv?table=win-loss&period=this_month")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "Month,Currency,Won,Won value,Lost,Lost value,Win rate"
    month = utcnow().strftime("%Y-%m")
    assert lines[1] == f"{month},USD,1,1000.50,1,200.00,0.5"
    reasons = logged_in.get("/reports/win-loss.csv?table=lost-reasons&period=this_month").text
    assert "'=HYPERLINK(1)" in reasons
    assert logged_in.get("/reports/win-loss.csv?table=nope").status_code == 404


def test_bad_filters_fall_back_and_another_teams_ids_are_404(logged_in, sales):
    assert logged_in.get("/reports/forecast?period=forever&owner=abc").status_code == 200
    other = factories.make_user(email="other@example.com", team_name="Other")
    other_pipeline = db.session.scalars(
        db.select(Pipeline).where(Pipeline.team_id == factories.team_of(other).id)
    ).one()
    assert logged_in.get(f"/reports/funnel?pipeline={other_pipeline.id}").status_code == 404
    assert logged_in.get(f"/reports/forecast?owner={other.id}").status_code == 404


def test_reports_is_in_the_navigation_and_redirects_to_the_forecast(logged_in, owner, sales):
    home = logged_in.get("/")
    assert 'href="/reports/"' in home.text
    # The owner's real id: on PostgreSQL ids keep counting across tests, so 1 may be no one.
    response = logged_in.get(f"/reports/?owner={owner.id}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/reports/forecast?owner={owner.id}")


def test_dashboard_tiles_show_my_numbers(logged_in, owner, sales):
    team, pipeline = sales
    today = utcnow().date()
    _deal(team, pipeline.stages[1], "Mine", 300_000, owner_id=owner.id, expected_close=today)
    services.mark_won(_deal(team, pipeline.stages[1], "Won by me", 90_000, owner_id=owner.id))
    home = logged_in.get("/")
    assert home.status_code == 200
    assert "My forecast · this month" in home.text
    assert "My open deals by stage" in home.text
    assert "Leaderboard · this month" in home.text
    assert "$3,000" in home.text  # open, this month
    assert "$900" in home.text  # won
    assert "Olive Owner" in home.text
    assert "getting-started" not in home.text


def _links(text: str, figure: str) -> list[str]:
    """The links whose text is `figure` on a report page."""
    return [unescape(h) for h in re.findall(rf'<a href="([^"]+)">{re.escape(figure)}</a>', text)]


def test_an_activity_figure_opens_the_members_records_of_that_week(logged_in, owner, sales):
    team, _ = sales
    bob = factories.make_member(team, name="Bob Seller")
    now = utcnow()
    for author, kind, subject in (
        (owner, "call", "Call one"),
        (owner, "call", "Call two"),
        (owner, "note", "A note"),
        (bob, "call", "Bob's call"),
    ):
        factories.make_activity(
            team, kind=kind, author_id=author.id, occurred_at=now, subject=subject
        )
    factories.make_activity(
        team, kind="call", author_id=owner.id, occurred_at=now - timedelta(days=8), subject="Old"
    )
    factories.make_task(team, title="Sent the quote", assignee_id=owner.id, done_at=now)
    page = logged_in.get(f"/reports/activity?owner={owner.id}")
    calls = next(h for h in _links(page.text, "2") if "kind=call" in h)
    records = logged_in.get(calls)
    assert records.status_code == 200 and "<html" in records.text
    assert "Call one" in records.text and "Call two" in records.text
    assert "A note" not in records.text and "Bob's call" not in records.text
    assert "Old" not in records.text  # another week
    tasks = next(h for h in _links(page.text, "1") if "kind=task" in h)
    assert "Sent the quote" in logged_in.get(tasks).text
    total = next(h for h in _links(page.text, "4") if "kind=" not in h)
    everything = logged_in.get(total).text
    assert all(x in everything for x in ("Call one", "Call two", "A note", "Sent the quote"))
    partial = logged_in.get(calls, headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="activity-records"')


def test_health_and_lost_reason_figures_open_the_deals_behind_them(logged_in, sales):
    team, pipeline = sales
    lead = pipeline.stages[0]
    lead.rot_days = 7
    quiet = _deal(team, lead, "Quiet for weeks", 10_000)
    quiet.created_at = quiet.stage_entered_at = utcnow() - timedelta(days=30)
    quiet.last_activity_at = None
    planned = _deal(team, lead, "Has a next step", 10_000)
    factories.make_task(team, deal_id=planned.id, due_at=utcnow() + timedelta(days=1))
    no_reason = _deal(team, lead, "Lost quietly", 5_000)
    no_reason.status, no_reason.closed_at = services.DealStatus.LOST, utcnow()
    db.session.commit()
    page = logged_in.get("/reports/health")
    rotting = logged_in.get(next(h for h in _links(page.text, "1") if "rotting=1" in h)).text
    assert "Quiet for weeks" in rotting and "Has a next step" not in rotting
    idle = logged_in.get(next(h for h in _links(page.text, "1") if "no_task=1" in h)).text
    assert "Quiet for weeks" in idle and "Has a next step" not in idle
    page = logged_in.get("/reports/win-loss?period=this_month")
    lost = logged_in.get(next(h for h in _links(page.text, "1") if "reason=none" in h)).text
    assert "Lost quietly" in lost and "Quiet for weeks" not in lost
