"""The stage history every report reads, and the funnel's summary of it: written here only.

A deal's history is a chain of rows (stage, status, entered_at, left_at). Each change of stage
or status closes the open row at `at` and opens the next, in the caller's transaction, and
rewrites the deal's summary rows (deal_stage_reach) from its chain with reach_rows() — the
same function the migration back-fill and `crm seed` use, so the summary is exact by
construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import delete, insert, select, update

from crm.extensions import db
from crm.models import Deal, DealStageHistory, DealStageReach, Stage

# One history row as reach_rows() reads it: pipeline, stage, status, entered_at, left_at.
Link = tuple[int, int | None, str, datetime, datetime | None]


def reach_rows(
    deal_id: int, team_id: int, chain: Iterable[Link], positions: Mapping[int, int]
) -> list[dict]:
    """The deal's deal_stage_reach rows from its history rows (any order).

    One row per stage the deal has been in (stages that no longer exist are left out);
    `furthest` on the highest-positioned one per pipeline (moving back does not undo it);
    `days` adds up the visits to the stage that ended while the deal was open (a won or lost
    stretch is not time in stage; a visit still going on is not counted yet).
    """
    rows: dict[int, dict] = {}
    for pipeline_id, stage_id, status, entered_at, left_at in chain:
        if stage_id is None or stage_id not in positions:
            continue
        row = rows.setdefault(
            stage_id,
            {
                "deal_id": deal_id,
                "team_id": team_id,
                "pipeline_id": pipeline_id,
                "stage_id": stage_id,
                "furthest": False,
                "days": None,
            },
        )
        if left_at is not None and str(getattr(status, "value", status)) == "open":
            row["days"] = (row["days"] or 0.0) + (left_at - entered_at).total_seconds() / 86400
    best: dict[int, dict] = {}
    for row in rows.values():
        top = best.get(row["pipeline_id"])
        if top is None or positions[row["stage_id"]] > positions[top["stage_id"]]:
            best[row["pipeline_id"]] = row
    for row in best.values():
        row["furthest"] = True
    return list(rows.values())


def _chain_columns():
    H = DealStageHistory
    return (H.deal_id, H.team_id, H.pipeline_id, H.stage_id, H.status, H.entered_at, H.left_at)


def _positions(stage_ids: Iterable[int]) -> dict[int, int]:
    ids = {i for i in stage_ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Stage.id, Stage.position).where(Stage.id.in_(ids))).all())


def _rewrite(deal_ids: list[int], history: list) -> None:
    """Replace the summary rows of these deals with what their history says."""
    positions = _positions(r.stage_id for r in history)
    chains: dict[int, tuple[int, list[Link]]] = {deal_id: (0, []) for deal_id in deal_ids}
    for deal_id, team_id, *link in history:
        chains[deal_id] = (team_id, chains[deal_id][1])
        chains[deal_id][1].append(tuple(link))
    db.session.execute(
        delete(DealStageReach)
        .where(DealStageReach.deal_id.in_(deal_ids))
        .execution_options(synchronize_session=False)
    )
    rows = [
        row
        for deal_id, (team_id, chain) in chains.items()
        for row in reach_rows(deal_id, team_id, chain, positions)
    ]
    if rows:
        db.session.execute(insert(DealStageReach), rows)


def record_stage(deal: Deal, at: datetime) -> None:
    """The deal now sits in deal.stage_id with deal.status, since `at` (the deal has an id)."""
    db.session.execute(
        update(DealStageHistory)
        .where(DealStageHistory.deal_id == deal.id, DealStageHistory.left_at.is_(None))
        .values(left_at=at)
        .execution_options(synchronize_session=False)
    )
    db.session.add(
        DealStageHistory(
            team_id=deal.team_id,
            deal_id=deal.id,
            pipeline_id=deal.pipeline_id,
            stage_id=deal.stage_id,
            status=deal.status,
            entered_at=at,
        )
    )
    db.session.flush()
    history = db.session.execute(
        select(*_chain_columns()).where(DealStageHistory.deal_id == deal.id)
    ).all()
    _rewrite([deal.id], history)


def rebuild_pipeline(pipeline_id: int, batch: int = 2000) -> None:
    """Rewrite the summary of every deal with history in the pipeline (its stages were
    reordered or one was deleted, so "furthest" may have changed). The caller commits."""
    db.session.flush()
    H = DealStageHistory
    deal_ids = list(
        db.session.scalars(select(H.deal_id).where(H.pipeline_id == pipeline_id).distinct())
    )
    for i in range(0, len(deal_ids), batch):
        ids = deal_ids[i : i + batch]
        history = db.session.execute(select(*_chain_columns()).where(H.deal_id.in_(ids))).all()
        _rewrite(ids, history)
