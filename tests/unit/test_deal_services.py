"""Deal services: default pipeline, moves with gaps, renumbering, staleness, won/lost/reopen."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.deals import queries, services
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.models import Activity, ActivityContact, ActivityKind, Deal, DealStatus, LostReason
from tests import factories


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


@pytest.fixture
def pipeline(team):
    return queries.current_pipeline(team.id, None)


def column_ids(team, stage):
    return list(
        db.session.scalars(
            select(Deal.id)
            .where(Deal.team_id == team.id, Deal.stage_id == stage.id, Deal.status == "open")
            .order_by(Deal.position, Deal.id)
        )
    )


def new_deal(team, stage, title="Deal", **kw):
    return services.create_deal(
        team_id=team.id, title=title, stage=stage, currency=team.currency, **kw
    )


def test_new_team_gets_the_default_pipeline_and_reasons(team, pipeline):
    assert pipeline.is_default
    assert [s.name for s in pipeline.stages] == ["Lead in", "Qualified", "Proposal", "Negotiation"]
    assert [s.probability for s in pipeline.stages] == [10, 25, 50, 75]
    assert len(queries.lost_reasons(team.id)) >= 3


def test_create_puts_new_deals_on_top_and_records_it(team, pipeline):
    contact = factories.make_contact(team)
    stage = pipeline.stages[0]
    a = new_deal(team, stage, "A", contact_ids=[contact.id], value_minor=500)
    b = new_deal(team, stage, "B")
    assert column_ids(team, stage) == [b.id, a.id]
    assert a.contacts == [contact]
    assert db.session.scalar(select(Activity.id).where(Activity.deal_id == a.id))


def test_create_refuses_another_teams_contact(team, pipeline):
    other = factories.team_of(factories.make_user())
    stranger = factories.make_contact(other)
    with pytest.raises(Invalid):
        new_deal(team, pipeline.stages[0], contact_ids=[stranger.id])


def test_move_between_columns_updates_one_row_and_the_timelines(team, pipeline):
    contact = factories.make_contact(team)
    first, second = pipeline.stages[0], pipeline.stages[1]
    deal = new_deal(team, first, "Moving", contact_ids=[contact.id])
    x = new_deal(team, second, "X")
    y = new_deal(team, second, "Y")  # column: Y, X
    services.move_deal(deal, second, after_id=y.id, version=services.version_of(deal))
    assert column_ids(team, second) == [y.id, deal.id, x.id]
    assert deal.stage_id == second.id
    change = db.session.scalars(
        select(Activity).where(Activity.deal_id == deal.id, Activity.subject.like("Stage:%"))
    ).one()
    assert change.kind == ActivityKind.STAGE_CHANGE
    assert change.data["from_stage"] == "Lead in" and change.data["to_stage"] == "Qualified"
    # The stage change is on the contact's timeline too.
    assert (
        db.session.scalar(
            select(ActivityContact.contact_id).where(ActivityContact.activity_id == change.id)
        )
        == contact.id
    )


def test_move_to_top_and_within_a_column(team, pipeline):
    stage = pipeline.stages[0]
    a, b, c = (new_deal(team, stage, t) for t in "abc")  # column: c, b, a
    services.move_deal(a, stage, after_id=None)
    assert column_ids(team, stage) == [a.id, c.id, b.id]
    services.move_deal(a, stage, after_id=b.id)
    assert column_ids(team, stage) == [c.id, b.id, a.id]
    # Moving within a column is not a stage change.
    assert not db.session.scalar(
        select(Activity.id).where(Activity.deal_id == a.id, Activity.subject.like("Stage:%"))
    )


def test_renumbers_when_the_gap_runs_out(team, pipeline):
    stage = pipeline.stages[0]
    deals = [factories.make_deal(team, title=f"d{i}", stage=stage, position=i) for i in range(4)]
    # Positions 0,1,2,3: no room between 0 and 1.
    services.move_deal(deals[3], stage, after_id=deals[0].id)
    assert column_ids(team, stage) == [deals[0].id, deals[3].id, deals[1].id, deals[2].id]
    positions = db.session.scalars(
        select(Deal.position).where(Deal.stage_id == stage.id).order_by(Deal.position)
    ).all()
    assert len(set(positions)) == 4


def test_ties_are_broken_and_never_duplicated(team, pipeline):
    stage = pipeline.stages[0]
    deals = [factories.make_deal(team, title=f"t{i}", stage=stage) for i in range(5)]  # all at 0
    services.move_deal(deals[4], stage, after_id=deals[1].id)
    services.move_deal(deals[0], stage, after_id=deals[1].id)  # same slot, one after another
    ids = column_ids(team, stage)
    assert ids == [deals[1].id, deals[0].id, deals[4].id, deals[2].id, deals[3].id]
    positions = db.session.scalars(select(Deal.position).where(Deal.stage_id == stage.id)).all()
    assert len(set(positions)) == len(positions)


def test_a_stale_version_is_refused(team, pipeline):
    stage, other = pipeline.stages[0], pipeline.stages[1]
    deal = new_deal(team, stage)
    seen = services.version_of(deal)
    services.update_deal(deal, title="Renamed by someone else")  # the version moves on
    assert services.version_of(deal) != seen
    with pytest.raises(services.StaleBoard) as caught:
        services.move_deal(deal, other, version=seen)
    assert isinstance(caught.value, Conflict)
    assert db.session.get(Deal, deal.id).stage_id == stage.id
    services.move_deal(deal, other, version=services.version_of(deal))  # a fresh copy moves
    assert deal.stage_id == other.id


def test_dropping_under_a_deal_that_left_the_column_is_stale(team, pipeline):
    stage, other = pipeline.stages[0], pipeline.stages[1]
    deal = new_deal(team, stage)
    neighbour = new_deal(team, other)
    services.move_deal(neighbour, pipeline.stages[2])  # someone else moved it away
    with pytest.raises(services.StaleBoard):
        services.move_deal(deal, other, after_id=neighbour.id)
    assert db.session.get(Deal, deal.id).stage_id == stage.id


def test_won_lost_reopen(team, pipeline):
    stage = pipeline.stages[1]
    deal = new_deal(team, stage)
    services.mark_won(deal)
    assert deal.status == DealStatus.WON and deal.closed_at
    with pytest.raises(Invalid):
        services.mark_won(deal)
    services.reopen(deal)
    assert deal.status == DealStatus.OPEN and deal.closed_at is None
    with pytest.raises(Invalid):
        services.mark_lost(deal, reason=None)
    reason = db.session.scalars(select(LostReason).where(LostReason.team_id == team.id)).first()
    services.mark_lost(deal, reason=reason, note="Went with a cheaper tool")
    assert deal.status == DealStatus.LOST and deal.lost_reason_id == reason.id
    subjects = db.session.scalars(
        select(Activity.subject).where(Activity.deal_id == deal.id).order_by(Activity.id)
    ).all()
    assert "Deal won" in subjects and f"Deal lost: {reason.name}" in subjects
    # Closed deals leave the board but stay in the list.
    totals = queries.column_totals(team.id, pipeline, queries.Filters())
    assert totals[stage.id].count == 0
    rows, _ = queries.list_page(
        queries.list_query(team.id, None, queries.Filters(), "lost"), "updated", None
    )
    assert [d.id for d in rows] == [deal.id]


def test_totals_and_weighted_totals(team, pipeline):
    stage = pipeline.stages[2]  # 50 %
    new_deal(team, stage, value_minor=100_00)
    new_deal(team, stage, value_minor=300_00)
    t = queries.column_totals(team.id, pipeline, queries.Filters())[stage.id]
    assert t.count == 2
    assert t.by_currency[team.currency] == 400_00
    assert t.weighted[team.currency] == 200_00


def test_filters(team, pipeline):
    stage = pipeline.stages[0]
    a = new_deal(team, stage, "Acme renewal", tags=["vip"])
    new_deal(team, stage, "Globex pilot")
    f = queries.Filters(q="acme")
    assert [d.id for d in queries.column_cards(team.id, stage, f)[0]] == [a.id]
    tag_id = a.tags[0].id
    assert [
        d.id for d in queries.column_cards(team.id, stage, queries.Filters(tag_id=tag_id))[0]
    ] == [a.id]


def test_rotting(team, pipeline):
    from datetime import timedelta

    from crm.models import utcnow

    stage = pipeline.stages[0]  # rot_days = 14
    deal = new_deal(team, stage)
    assert not queries.is_rotting(deal, stage)
    assert queries.is_rotting(deal, stage, utcnow() + timedelta(days=15))
    stage.rot_days = None
    assert not queries.is_rotting(deal, stage, utcnow() + timedelta(days=400))


def test_stage_settings(team, pipeline):
    stage = services.add_stage(pipeline, "Contract sent", 90, 5)
    assert pipeline.stages[-1].id == stage.id
    ids = [s.id for s in pipeline.stages]
    services.reorder_stages(pipeline, list(reversed(ids)))
    assert [s.id for s in pipeline.stages] == list(reversed(ids))
    with pytest.raises(Invalid):
        services.update_stage(stage, name="x", probability=120, rot_days=None)
    new_deal(team, stage)
    with pytest.raises(Invalid):
        services.delete_stage(stage)
    other = services.create_pipeline(team.id, "Partners")
    services.make_default(other)
    assert queries.current_pipeline(team.id, None).id == other.id


def test_delete_restore_and_purge_of_deals(team, pipeline, owner):
    from datetime import timedelta

    from crm.contacts.services import purge_trash
    from crm.models import AuditEvent, utcnow

    deal = new_deal(team, pipeline.stages[1], "Comeback")
    services.delete_deal(deal, actor_id=owner.id)
    assert deal.deleted_at is not None
    first = deal.deleted_at
    services.delete_deal(deal, actor_id=owner.id)  # a second click (another tab): no change
    assert deal.deleted_at == first
    services.restore_deal(deal, actor_id=owner.id)
    assert deal.deleted_at is None and deal.stage_id == pipeline.stages[1].id
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "deal").order_by(AuditEvent.id)
    ).all()
    assert actions.count("delete") == 1
    assert actions[-2:] == ["delete", "restore"]

    old, recent = new_deal(team, pipeline.stages[0], "Old"), new_deal(team, pipeline.stages[0])
    services.delete_deal(old, actor_id=owner.id)
    services.delete_deal(recent, actor_id=owner.id)
    old.deleted_at = utcnow() - timedelta(days=31)
    db.session.commit()
    old_id, recent_id, kept_id = old.id, recent.id, deal.id
    assert purge_trash() == 1
    db.session.expunge_all()
    assert db.session.get(Deal, old_id) is None
    assert db.session.get(Deal, recent_id) is not None and db.session.get(Deal, kept_id)
