"""The forecast in a browser, desktop and 390 px: change a filter, the chart and the table
follow (and the URL, to share), the CSV downloads the same numbers, nothing scrolls sideways."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from crm.deals import services
from crm.extensions import db
from crm.models import Pipeline, Stage, utcnow
from tests import factories
from tests.browser.test_deals_board import _login
from tests.conftest import assert_no_sideways_scroll


def _setup(owner):
    team = factories.team_of(owner)
    sales = db.session.scalars(db.select(Pipeline).where(Pipeline.team_id == team.id)).one()
    partners = Pipeline(team_id=team.id, name="Partners", position=1)
    partners.stages = [Stage(team_id=team.id, name="Talking", position=0, probability=40)]
    db.session.add(partners)
    db.session.commit()
    today = utcnow().date()
    close = today if (today + timedelta(days=1)).day == 1 else today + timedelta(days=1)
    for title, stage, value in (
        ("Northwind renewal", sales.stages[2], 1_250_000),
        ("Globex expansion", sales.stages[1], 480_000),
        ("Reseller deal", partners.stages[0], 777_700),
    ):
        services.create_deal(
            team_id=team.id,
            title=title,
            stage=stage,
            currency="USD",
            value_minor=value,
            owner_id=owner.id,
            expected_close=close,
        )
    return partners


def test_forecast_filters_redraw_chart_and_table_and_download_csv(page, owner, tmp_path):
    partners = _setup(owner)
    _login(page, owner)
    if page.is_phone:
        page.get_by_text("More", exact=True).click()
        page.get_by_role("link", name="Reports").click()
    else:
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.wait_for_url(re.compile(r"/reports/forecast"))
    page.get_by_label("Period").select_option(label="This month")
    page.wait_for_url(re.compile(r"period=this_month"))

    table = page.get_by_role("table", name=re.compile("^Open deals by expected close month"))
    chart = page.locator("#forecast svg.chart").first
    expect(table).to_contain_text("$25,077.00")  # all three deals
    expect(chart).to_be_visible()
    expect(chart.locator("title").first).to_contain_text("Forecast in USD")
    assert "$25,077" in chart.inner_html()
    assert_no_sideways_scroll(page)

    page.get_by_label("Pipeline").select_option(label="Partners")
    page.wait_for_url(re.compile(rf"pipeline={partners.id}"))
    expect(table).to_contain_text("$7,777.00")
    expect(table).not_to_contain_text("$25,077.00")
    assert "$7,777" in page.locator("#forecast svg.chart").first.inner_html()
    assert "$25,077" not in page.locator("#forecast svg.chart").first.inner_html()
    assert_no_sideways_scroll(page)

    # The URL is shareable: opening it again shows the same filtered report.
    page.goto(page.url)
    expect(page.get_by_label("Pipeline")).to_have_value(str(partners.id))
    expect(page.get_by_role("table", name=re.compile("^Open deals by expected"))).to_contain_text(
        "$7,777.00"
    )

    with page.expect_download() as info:
        page.locator("#forecast").get_by_role("link", name=re.compile("Download CSV")).click()
    path = tmp_path / "forecast.csv"
    info.value.save_as(path)
    text = path.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == (
        "Month,Currency,Open deals,Open value,Weighted,Won deals,Won value"
    )
    assert ",USD,1,7777.00,3110.80,0,0" in text
    assert_no_sideways_scroll(page)


def test_the_dashboard_fits_a_phone(page, owner):
    _setup(owner)
    _login(page, owner)
    expect(page.get_by_role("heading", name="My open deals by stage")).to_be_visible()
    expect(page.locator("#tile-open-deals")).to_contain_text("Proposal")
    assert_no_sideways_scroll(page)
    page.get_by_role("link", name="My forecast · this month").click()
    page.wait_for_url(re.compile(r"/reports/forecast\?"))
    expect(page.get_by_label("Owner", exact=True)).to_have_value(str(owner.id))


def test_an_activity_figure_opens_the_calls_behind_it(page, owner):
    team = factories.team_of(owner)
    for subject in ("Called Northwind about the renewal", "Called Globex back"):
        factories.make_activity(
            team, kind="call", author_id=owner.id, occurred_at=utcnow(), subject=subject
        )
    _login(page, owner)
    page.goto(re.match(r"https?://[^/]+", page.url)[0] + "/reports/activity")
    table = page.get_by_role("table", name=re.compile("^Activities by member by week"))
    table.get_by_role("link", name="2").first.click()
    page.wait_for_url(re.compile(r"/reports/activity/records\?.*kind=call"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Calls")
    expect(page.get_by_role("table")).to_contain_text("Called Northwind about the renewal")
    expect(page.get_by_role("table")).to_contain_text("Called Globex back")
    assert_no_sideways_scroll(page)
