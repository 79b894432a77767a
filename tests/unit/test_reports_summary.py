"""The funnel's summary (deal_stage_reach) on the hand-checked fixture of test_reports.py:
always what its history says, whatever happens to the deal or its pipeline."""

# ruff: noqa: F811  (the tests take the imported `world` fixture as an argument)

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from crm.deals import services
from crm.deals.history import reach_rows, record_stage
from crm.extensions import db
from crm.models import DealStageHistory, DealStageReach, Stage
from crm.reports import queries
from tests.unit.test_reports import at, filters, world  # noqa: F401  (the fixture)


def summary(deal) -> dict[str, tuple[bool, float | None]]:
    """stage name → (furthest, days) of the deal's summary rows."""
    names = dict(db.session.execute(db.select(Stage.id, Stage.name)).all())
    rows = db.session.scalars(db.select(DealStageReach).where(DealStageReach.deal_id == deal.id))
    return {names.get(r.stage_id, r.stage_id): (r.furthest, r.days) for r in rows}


def approx(d):
    return {k: (f, pytest.approx(days) if days is not None else None) for k, (f, days) in d.items()}


def rebuilt_from_history(team_id) -> set:
    """Every deal's summary as reach_rows derives it from the history rows now."""
    positions = dict(db.session.execute(db.select(Stage.id, Stage.position)).all())
    H = DealStageHistory
    chains: dict[int, list] = {}
    for deal_id, *link in db.session.execute(
        db.select(H.deal_id, H.pipeline_id, H.stage_id, H.status, H.entered_at, H.left_at).where(
            H.team_id == team_id
        )
    ):
        chains.setdefault(deal_id, []).append(tuple(link))
    return {
        (r["deal_id"], r["stage_id"], r["furthest"], round(r["days"] or 0, 6))
        for deal_id, chain in chains.items()
        for r in reach_rows(deal_id, team_id, chain, positions)
    }


def stored(team_id) -> set:
    R = DealStageReach
    return {
        (d, s, f, round(days or 0, 6))
        for d, s, f, days in db.session.execute(
            db.select(R.deal_id, R.stage_id, R.furthest, R.days).where(R.team_id == team_id)
        )
    }


def test_summary_keeps_the_furthest_stage_and_the_days_of_finished_visits(world):
    deals = world["deals"]
    # D3: Lead 10 d, Qualified 11 d (its second visit is not over), Proposal 10 d, then back.
    assert summary(deals["D3"]) == approx(
        {"Lead in": (False, 10), "Qualified": (False, 11), "Proposal": (True, 10)}
    )
    # D4: won after 14 days in Lead in, reopened there: the won stretch is no time in stage.
    assert summary(deals["D4"]) == approx({"Lead in": (True, 14)})
    # D10: lost after 30 days, reopened, won 7 days later: 37 days in Lead in.
    assert summary(deals["D10"]) == approx({"Lead in": (True, 37)})
    # D6 skipped two stages: it has rows for the stages it was in only.
    assert summary(deals["D6"]) == approx({"Lead in": (False, 5), "Negotiation": (True, None)})
    assert stored(world["team"].id) == rebuilt_from_history(world["team"].id)


def test_a_deleted_deal_leaves_the_funnel_and_comes_back_restored(world):
    lead = world["sales"].stages[0]
    d7 = world["deals"]["D7"]
    assert summary(d7) == {"Lead in": (True, None)}  # kept while in the trash
    services.restore_deal(d7)
    r = queries.funnel(filters(world, period="this_quarter"), world["sales"])
    assert r.created == 9 and r.reached[lead.id] == 9
    services.delete_deal(d7)
    r = queries.funnel(filters(world, period="this_quarter"), world["sales"])
    assert r.created == 8 and r.reached[lead.id] == 8


def test_a_deal_moved_to_another_pipeline_counts_in_each_for_what_it_reached_there(world):
    """No service moves a deal across pipelines today (the API, imports and automation may);
    the summary keeps each pipeline's reach apart, so it is ready when one does."""
    sales, partners = world["sales"], world["partners"]
    a, b = partners.stages
    d8 = world["deals"]["D8"]
    d8.pipeline_id, d8.stage_id = partners.id, b.id
    db.session.flush()
    db.session.expire(d8, ["pipeline", "stage"])
    record_stage(d8, at(6, 9))
    db.session.commit()
    assert summary(d8) == approx({"B": (True, None), "Lead in": (True, 4)})
    f = filters(world, period="this_quarter")
    r = queries.funnel(f, partners)
    # P1, P2 and now D8 (which skipped A: reaching B passes it).
    assert r.created == 3 and r.reached == {a.id: 3, b.id: 2}
    assert queries.funnel(f, sales).created == 7  # D8 is no longer in Sales
    assert stored(world["team"].id) == rebuilt_from_history(world["team"].id)


def test_reordering_or_deleting_stages_rebuilds_the_furthest_stage(world):
    sales = world["sales"]
    lead, qualified, proposal, negotiation = sales.stages
    services.reorder_stages(sales, [lead.id, proposal.id, qualified.id, negotiation.id])
    d3 = world["deals"]["D3"]
    # Proposal now comes before Qualified: D3's furthest is Qualified, where it is now.
    assert summary(d3) == approx(
        {"Lead in": (False, 10), "Qualified": (True, 11), "Proposal": (False, 10)}
    )
    assert stored(world["team"].id) == rebuilt_from_history(world["team"].id)
    r = queries.funnel(filters(world, period="this_quarter"), sales)
    assert r.reached == {lead.id: 8, proposal.id: 4, qualified.id: 4, negotiation.id: 1}
    # Negotiation was D6's furthest stage: once it is gone, Qualified (where D6 is now) is.
    services.move_deal(world["deals"]["D6"], qualified)
    services.delete_stage(negotiation)
    assert summary(world["deals"]["D6"]) == approx(
        {"Lead in": (False, 5), "Qualified": (True, None)}
    )
    assert stored(world["team"].id) == rebuilt_from_history(world["team"].id)


def test_the_migration_back_fill_writes_what_record_stage_wrote(world):
    path = Path(__file__).parents[2] / "migrations/versions/0006r_deal_stage_reach.py"
    spec = importlib.util.spec_from_file_location("m0006r", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    team_id = world["team"].id
    before = stored(team_id)
    db.session.execute(db.delete(DealStageReach))
    module.backfill(db.session.connection(), DealStageReach.__table__)
    assert stored(team_id) == before
