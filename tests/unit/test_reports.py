"""Every report on a hand-checked fixture: the expected figures are written out by hand below.

The fixture (now = Mon 15 Jun 2026 12:00 UTC, everyone in UTC):

Sales pipeline: Lead in 10 % (rot 14 d), Qualified 25 % (14 d), Proposal 50 % (10 d),
Negotiation 75 % (7 d). Partners pipeline: A 20 %, B 60 % (never rot).

  D1  USD 1,000  Sales  created Apr 2 · Qualified Apr 5 · Proposal Apr 15 · won May 10
  D2  USD   500  Sales  created Apr 3 · Qualified Apr 13 · lost May 20 (Price)
  D3  EUR 2,000  Sales  created Apr 10 · Qualified Apr 20 · Proposal May 1 · back to Qualified
                        May 11 · open, closes Jun 30
  D4  USD   300  Sales  created May 1 · won May 15 · reopened Jun 2 · open, closes Jul 15
  D5  EUR   800  Sales  created May 5 · lost Jun 2 (Timing)
  D6  USD 1,200  Sales  created Apr 20 · Negotiation Apr 25 (skips two) · open, closes Jun 20,
                        activity Jun 10, an open task
  D7  USD   400  Sales  created May 2 · closes Jun 25 · deleted (in the trash)
  D8  USD   700  Sales  created Jun 5 · open, no close date
  D9  USD   900  Sales  created Mar 1 · Proposal Mar 10 · open, closes May 31 (passed)
  D10 USD   250  Sales  created Apr 25 · lost May 25 (Price) · reopened Jun 3 · won Jun 10
  P1  USD 5,000  Partners created Apr 8 · B Apr 18 · won Jun 5
  P2  EUR 1,500  Partners created May 8 · open, closes Aug 10
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from crm.deals import services
from crm.extensions import db
from crm.kernel.dates import zone
from crm.models import (
    ActivityKind,
    DealStageHistory,
    LostReason,
    Pipeline,
    Stage,
)
from crm.reports import queries
from crm.reports.periods import from_args
from tests import factories

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, monkeypatch):
        self.now = NOW
        monkeypatch.setattr(services, "utcnow", lambda: self.now)


@pytest.fixture
def world(app, monkeypatch):
    clock = Clock(monkeypatch)
    olive = factories.make_user(name="Olive Owner", email="olive@example.com", team_name="Acme")
    team = factories.team_of(olive)
    bob = factories.make_member(team, name="Bob Seller", email="bob@example.com")
    sales = db.session.scalars(db.select(Pipeline).where(Pipeline.team_id == team.id)).one()
    lead, qualified, proposal, negotiation = sales.stages
    partners = Pipeline(team_id=team.id, name="Partners", position=1)
    partners.stages = [
        Stage(team_id=team.id, name="A", position=0, probability=20),
        Stage(team_id=team.id, name="B", position=1, probability=60),
    ]
    db.session.add(partners)
    db.session.commit()
    a, b = partners.stages
    reasons = {
        r.name: r
        for r in db.session.scalars(db.select(LostReason).where(LostReason.team_id == team.id))
    }
    deals = {}

    def create(name, stage, value, currency, created, close=None, owner=olive):
        clock.now = created
        deal = services.create_deal(
            team_id=team.id,
            title=name,
            stage=stage,
            currency=currency,
            value_minor=value * 100,
            owner_id=owner.id,
            expected_close=close,
            actor_id=olive.id,
        )
        deal.created_at = created
        db.session.commit()
        deals[name] = deal
        return deal

    def move(name, stage, when):
        clock.now = when
        services.move_deal(deals[name], stage)

    def won(name, when):
        clock.now = when
        services.mark_won(deals[name])

    def lost(name, reason, when):
        clock.now = when
        services.mark_lost(deals[name], reason=reasons[reason])

    def reopen(name, when):
        clock.now = when
        services.reopen(deals[name])

    d = datetime.date
    create("D1", lead, 1000, "USD", at(4, 2))
    move("D1", qualified, at(4, 5))
    move("D1", proposal, at(4, 15))
    won("D1", at(5, 10))
    create("D2", lead, 500, "USD", at(4, 3), owner=bob)
    move("D2", qualified, at(4, 13))
    lost("D2", "Price", at(5, 20))
    create("D3", lead, 2000, "EUR", at(4, 10), d(at(6, 30)))
    move("D3", qualified, at(4, 20))
    move("D3", proposal, at(5, 1))
    move("D3", qualified, at(5, 11))
    create("D4", lead, 300, "USD", at(5, 1), d(at(7, 15)))
    won("D4", at(5, 15))
    reopen("D4", at(6, 2))
    create("D5", lead, 800, "EUR", at(5, 5), owner=bob)
    lost("D5", "Timing", at(6, 2))
    create("D6", lead, 1200, "USD", at(4, 20), d(at(6, 20)))
    move("D6", negotiation, at(4, 25))
    create("D7", lead, 400, "USD", at(5, 2), d(at(6, 25)))
    clock.now = at(5, 3)
    services.delete_deal(deals["D7"])
    create("D8", lead, 700, "USD", at(6, 5))
    create("D9", lead, 900, "USD", at(3, 1), d(at(5, 31)))
    move("D9", proposal, at(3, 10))
    create("D10", lead, 250, "USD", at(4, 25), owner=bob)
    lost("D10", "Price", at(5, 25))
    reopen("D10", at(6, 3))
    won("D10", at(6, 10))
    create("P1", a, 5000, "USD", at(4, 8))
    move("P1", b, at(4, 18))
    won("P1", at(6, 5))
    create("P2", a, 1500, "EUR", at(5, 8), d(at(8, 10)))

    # Activity: the services stamped "now" (the real clock) on the deals; set it by hand.
    for deal in deals.values():
        deal.last_activity_at = None
    deals["D6"].last_activity_at = at(6, 10)
    db.session.commit()
    for author, kind, when in (
        (olive, "note", at(6, 1)),
        (olive, "note", at(6, 3)),
        (olive, "call", at(6, 7)),  # Sunday: still the week of Jun 1
        (bob, "meeting", at(6, 2)),
        (bob, "email", at(6, 4)),
        (olive, "call", at(6, 8)),
        (olive, "note", at(5, 31)),  # May: outside "this month"
    ):
        factories.make_activity(team, kind=kind, author_id=author.id, occurred_at=when)
    gone = factories.make_activity(team, kind="note", author_id=olive.id, occurred_at=at(6, 2))
    gone.deleted_at = NOW
    factories.make_activity(
        team, kind=ActivityKind.STAGE_CHANGE.value, author_id=olive.id, occurred_at=at(6, 2)
    )
    task = dict(team=team)
    factories.make_task(**task, assignee_id=bob.id, done_at=at(6, 9), due_at=at(6, 9))
    factories.make_task(
        **task, assignee_id=olive.id, deal_id=deals["D6"].id, due_at=at(6, 20), all_day=False
    )
    factories.make_task(
        **task, assignee_id=olive.id, deal_id=deals["D3"].id, done_at=at(6, 1), due_at=at(6, 1)
    )
    factories.make_task(**task, assignee_id=olive.id, due_at=at(6, 10), all_day=False)
    factories.make_task(**task, assignee_id=bob.id, due_at=at(6, 1), all_day=False)
    factories.make_task(**task, assignee_id=bob.id, due_at=at(6, 14), all_day=False)

    # Another team with look-alike data must never show up.
    other = factories.team_of(factories.make_user(email="x@example.com", team_name="Other"))
    other_stage = db.session.scalars(db.select(Stage).where(Stage.team_id == other.id)).first()
    clock.now = at(6, 1)
    od = services.create_deal(
        team_id=other.id,
        title="X",
        stage=other_stage,
        currency="USD",
        value_minor=10**9,
        expected_close=d(at(6, 20)),
    )
    services.mark_won(od)
    return dict(
        team=team,
        olive=olive,
        bob=bob,
        sales=sales,
        partners=partners,
        deals=deals,
        reasons=reasons,
    )


def filters(world, **args):
    return from_args(MultiDict(args), team_id=world["team"].id, tz=zone("UTC"), now=NOW)


def usd(amount):
    return round(amount * 100)


def test_history_is_a_chain_per_deal(world):
    d3 = world["deals"]["D3"]
    rows = db.session.scalars(
        db.select(DealStageHistory)
        .where(DealStageHistory.deal_id == d3.id)
        .order_by(DealStageHistory.entered_at)
    ).all()
    names = [
        (
            r.stage_id,
            r.status.value,
            r.entered_at.date().isoformat(),
            r.left_at and r.left_at.date().isoformat(),
        )
        for r in rows
    ]
    lead, qualified, proposal, _ = world["sales"].stages
    assert names == [
        (lead.id, "open", "2026-04-10", "2026-04-20"),
        (qualified.id, "open", "2026-04-20", "2026-05-01"),
        (proposal.id, "open", "2026-05-01", "2026-05-11"),
        (qualified.id, "open", "2026-05-11", None),
    ]


def test_forecast(world):
    r = queries.forecast(filters(world, period="this_quarter"))
    assert [m.isoformat() for m in r.months] == ["2026-04-01", "2026-05-01", "2026-06-01"]
    assert r.currencies == ["EUR", "USD"]
    # Open, closing from today to the end of June: D6 (USD, 75 %) and D3 (EUR, 25 %).
    assert set(r.open) == {("2026-06", "USD"), ("2026-06", "EUR")}
    assert r.open[("2026-06", "USD")].count == 1
    assert r.open[("2026-06", "USD")].value["USD"] == usd(1200)
    assert r.open[("2026-06", "USD")].weighted["USD"] == usd(900)
    assert r.open[("2026-06", "EUR")].value["EUR"] == usd(2000)
    assert r.open[("2026-06", "EUR")].weighted["EUR"] == usd(500)
    # Won: D1 in May; P1 and D10 in June. D4 was won in May but is open again.
    assert {k: (a.count, a.value[k[1]]) for k, a in r.won.items()} == {
        ("2026-05", "USD"): (1, usd(1000)),
        ("2026-06", "USD"): (2, usd(5250)),
    }
    # Apart: D9's close date passed (Proposal 50 %); D8 has none (Lead in 10 %).
    assert {c: (a.count, a.value[c], a.weighted[c]) for c, a in r.past.items()} == {
        "USD": (1, usd(900), usd(450))
    }
    assert {c: (a.count, a.value[c], a.weighted[c]) for c, a in r.no_date.items()} == {
        "USD": (1, usd(700), usd(70))
    }


def test_forecast_by_pipeline_and_owner(world):
    r = queries.forecast(filters(world, period="this_quarter", pipeline=world["partners"].id))
    assert {k: a.count for k, a in r.won.items()} == {("2026-06", "USD"): 1}  # P1
    assert r.open == {} and r.past == {} and r.no_date == {}
    r = queries.forecast(filters(world, period="this_quarter", owner=world["bob"].id))
    assert {k: (a.count, a.value["USD"]) for k, a in r.won.items()} == {
        ("2026-06", "USD"): (1, usd(250))
    }


def test_win_loss(world):
    r = queries.win_loss(filters(world, period="this_quarter"))
    assert {k: (a.count, a.value[k[1]]) for k, a in r.won.items()} == {
        ("2026-05", "USD"): (1, usd(1000)),
        ("2026-06", "USD"): (2, usd(5250)),
    }
    # D10 was lost in May, then reopened and won: it counts once, as won in June.
    assert {k: (a.count, a.value[k[1]]) for k, a in r.lost.items()} == {
        ("2026-05", "USD"): (1, usd(500)),
        ("2026-06", "EUR"): (1, usd(800)),
    }
    assert r.win_rate() == pytest.approx(3 / 5)
    assert r.win_rate("2026-05") == pytest.approx(1 / 2)
    assert r.win_rate("2026-06") == pytest.approx(2 / 3)
    assert r.win_rate("2026-04") is None
    assert r.average_won("USD") == 208333  # 6,250.00 / 3, rounded down to the cent
    assert r.average_won("EUR") is None
    # D1 38 days, P1 58 days, D10 46 days.
    assert r.cycle_days == pytest.approx(142 / 3)
    assert [(x.name, x.count, dict(x.value)) for x in r.reasons] == [
        ("Price", 1, {"USD": usd(500)}),
        ("Timing", 1, {"EUR": usd(800)}),
    ]


def test_funnel(world):
    lead, qualified, proposal, negotiation = world["sales"].stages
    r = queries.funnel(filters(world, period="this_quarter"), world["sales"])
    # Created Apr–Jun in Sales, not deleted: D1 D2 D3 D4 D5 D6 D8 D10 (D9 is from March).
    assert r.created == 8
    assert r.reached == {lead.id: 8, qualified.id: 4, proposal.id: 3, negotiation.id: 1}
    assert r.won == 2  # D1, D10 (D4 is open again)
    assert [r.conversion(i) for i in range(4)] == [
        pytest.approx(0.5),
        pytest.approx(0.75),
        pytest.approx(1 / 3),
        0.0,  # D6 reached Negotiation and is still open
    ]
    # Lead in: D1 3, D2 10, D3 10, D4 14, D5 28, D6 5, D10 30 + 7 (D8 is still there).
    assert r.median_days[lead.id] == pytest.approx(10)
    # Qualified: D1 10, D2 37, D3 11 (its second visit is not over).
    assert r.median_days[qualified.id] == pytest.approx(11)
    assert r.median_days[proposal.id] == pytest.approx(17.5)  # D1 25, D3 10
    assert r.median_days[negotiation.id] is None


def test_activity(world):
    olive, bob = world["olive"].id, world["bob"].id
    r = queries.activity(filters(world, period="this_month"))
    assert [w.isoformat() for w in r.weeks] == [
        "2026-06-01",
        "2026-06-08",
        "2026-06-15",
        "2026-06-22",
        "2026-06-29",
    ]
    counts = {k: dict(v) for k, v in r.counts.items()}
    assert counts == {
        ("2026-06-01", olive): {"note": 2, "call": 1, "task": 1},  # the task done on D3
        ("2026-06-01", bob): {"meeting": 1, "email": 1},
        ("2026-06-08", olive): {"call": 1},
        ("2026-06-08", bob): {"task": 1},
    }
    assert r.total() == 8


def test_health(world):
    deals = world["deals"]
    r = queries.health(filters(world), NOW)
    assert r.rotting_count == 2
    assert [d.title for d in r.rotting] == ["D9", "D3"]  # quietest first
    assert r.idle_count == 5
    assert sorted(d.title for d in r.idle) == ["D3", "D4", "D8", "D9", "P2"]
    assert r.overdue == [(world["bob"].id, "Bob Seller", 2), (world["olive"].id, "Olive Owner", 1)]
    assert deals["D6"].title not in [d.title for d in r.idle]


def test_leaderboard_and_open_by_stage(world):
    f = filters(world, period="this_month")
    board = {x.name: (x.won_count, dict(x.won), x.activities) for x in queries.leaderboard(f)}
    assert board == {
        "Olive Owner": (1, {"USD": usd(5000)}, 4),  # notes Jun 1, 3; calls Jun 7, 8
        "Bob Seller": (1, {"USD": usd(250)}, 2),
    }
    mine = filters(world, owner=world["olive"].id)
    stages = {s.name: (a.count, dict(a.value)) for s, a in queries.open_by_stage(mine)}
    assert stages == {
        "Lead in": (2, {"USD": usd(1000)}),  # D4, D8
        "Qualified": (1, {"EUR": usd(2000)}),  # D3
        "Proposal": (1, {"USD": usd(900)}),  # D9
        "Negotiation": (1, {"USD": usd(1200)}),  # D6
        "A": (1, {"EUR": usd(1500)}),  # P2
    }


def test_seeded_history_ends_where_each_seeded_deal_is(app):
    from crm.models import Deal
    from crm.seed import generate as seed

    team, users = seed.ensure_team("Seeded", "demo password 123", members=2)
    counts = seed.seed(team, users, contacts=20, deals=60)
    assert counts["stage changes"] >= 60
    deals = {d.id: d for d in db.session.scalars(db.select(Deal).where(Deal.team_id == team.id))}
    rows = db.session.scalars(
        db.select(DealStageHistory)
        .where(DealStageHistory.team_id == team.id)
        .order_by(DealStageHistory.deal_id, DealStageHistory.entered_at, DealStageHistory.id)
    ).all()
    current = {r.deal_id: r for r in rows if r.left_at is None}
    assert set(current) == set(deals)  # exactly one open-ended row per deal…
    assert sum(1 for r in rows if r.left_at is None) == len(deals)
    for deal_id, row in current.items():  # …and it is where the deal is
        assert (row.stage_id, row.status) == (deals[deal_id].stage_id, deals[deal_id].status)
    for row in rows:
        assert row.left_at is None or row.left_at >= row.entered_at


def test_the_migration_rebuilds_history_from_the_timeline():
    import importlib.util
    from pathlib import Path
    from types import SimpleNamespace

    path = Path(__file__).parents[2] / "migrations/versions/0004r_reports_stage_history.py"
    spec = importlib.util.spec_from_file_location("m0004r", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    deal = SimpleNamespace(
        id=7,
        team_id=1,
        pipeline_id=2,
        stage_id=11,
        status="won",
        created_at=at(4, 1),
        closed_at=at(5, 20),
        stage_entered_at=at(5, 1),
    )
    events = [
        (at(4, 1), {"to_stage": "Lead in"}),  # "Deal created in Lead in": no id, no move
        (at(4, 3), {"from_stage_id": 10, "to_stage_id": 11}),
        (at(4, 9), {"from_stage_id": 11, "to_stage_id": 12}),
        (at(4, 20), {"status": "won"}),
        (at(4, 22), {"status": "open"}),  # reopened
        (at(5, 1), {"from_stage_id": 12, "to_stage_id": 11}),  # back a stage
        (at(5, 20), {"status": "won"}),
    ]
    rows = [
        (r["stage_id"], r["status"], r["entered_at"].day, r["left_at"] and r["left_at"].day)
        for r in module._chain(deal, events)
    ]
    assert rows == [
        (10, "open", 1, 3),
        (11, "open", 3, 9),
        (12, "open", 9, 20),
        (12, "won", 20, 22),
        (12, "open", 22, 1),
        (11, "open", 1, 20),
        (11, "won", 20, None),
    ]
    # No timeline at all: the current stage since creation, then the close.
    lost = SimpleNamespace(**{**vars(deal), "status": "lost"})
    assert [(r["stage_id"], r["status"]) for r in module._chain(lost, [])] == [
        (11, "open"),
        (11, "lost"),
    ]


def test_months_and_weeks_are_the_viewers(app, monkeypatch):
    """Won at 23:30 UTC on 31 May is June in Paris; an activity at 23:30 UTC on Sunday 7 June
    is Monday 8 June there (the next week)."""
    Clock(monkeypatch).now = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
    user = factories.make_user(email="paris@example.com", team_name="Paris")
    team = factories.team_of(user)
    stage = db.session.scalars(db.select(Stage).where(Stage.team_id == team.id)).first()
    deal = services.create_deal(
        team_id=team.id, title="Late", stage=stage, currency="EUR", value_minor=100
    )
    services.mark_won(deal)
    factories.make_activity(
        team, kind="call", author_id=user.id, occurred_at=datetime(2026, 6, 7, 23, 30, tzinfo=UTC)
    )
    args = dict(team_id=team.id, now=NOW)
    paris = from_args(MultiDict({"period": "this_quarter"}), tz=zone("Europe/Paris"), **args)
    utc = from_args(MultiDict({"period": "this_quarter"}), tz=zone("UTC"), **args)
    assert set(queries.win_loss(paris).won) == {("2026-06", "EUR")}
    assert set(queries.win_loss(utc).won) == {("2026-05", "EUR")}
    paris_month = from_args(MultiDict({"period": "this_month"}), tz=zone("Europe/Paris"), **args)
    assert [w for w, _ in queries.activity(paris_month).counts] == ["2026-06-08"]
    utc_month = from_args(MultiDict({"period": "this_month"}), tz=zone("UTC"), **args)
    assert [w for w, _ in queries.activity(utc_month).counts] == ["2026-06-01"]
