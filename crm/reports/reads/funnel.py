"""Funnel: how far the deals created in a period got, conversion, median days in stage."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    Deal,
    DealStageReach,
    DealStatus,
    Pipeline,
    Stage,
)
from crm.reports.periods import ReportFilters
from crm.reports.reads.common import (
    deal_scope,
)


@dataclass
class Funnel:
    pipeline: Pipeline | None
    stages: list[Stage]
    created: int  # deals created in the period (in the pipeline, matching the filters)
    reached: dict[int, int]  # stage id → deals that reached it or a later stage
    won: int  # deals won now, from whichever stage
    median_days: dict[int, float | None]
    won_from_last: int = 0  # won deals that had reached the last stage

    def conversion(self, i: int) -> float | None:
        """From stage i to the next step (the next stage; after the last one, won)."""
        here = self.reached.get(self.stages[i].id, 0)
        last = i + 1 >= len(self.stages)
        nxt = self.won_from_last if last else self.reached.get(self.stages[i + 1].id, 0)
        return nxt / here if here else None


def funnel(f: ReportFilters, pipeline: Pipeline | None) -> Funnel:
    """Three aggregates over the deals created in the period (found through the covering
    ix_deal_team_created) and their summary rows (deal_stage_reach, one lookup per deal):
    deals by status, deals by furthest stage and status, the median days per stage."""
    if pipeline is None:
        return Funnel(None, [], 0, {}, 0, {})
    stages = list(pipeline.stages)
    conds = deal_scope(f) + [
        Deal.pipeline_id == pipeline.id,
        Deal.created_at >= f.start,
        Deal.created_at < f.end,
    ]
    R = DealStageReach
    position = {s.id: s.position for s in stages}
    by_furthest: dict[int, int] = defaultdict(int)  # position → deals that got that far
    won_at: dict[int, int] = defaultdict(int)
    for stage_id, status, n in db.session.execute(
        select(R.stage_id, Deal.status, func.count())
        .select_from(Deal)
        .join(R, R.deal_id == Deal.id)
        .where(*conds, R.pipeline_id == pipeline.id, R.furthest.is_(True))
        .group_by(R.stage_id, Deal.status)
    ):
        if stage_id in position:
            by_furthest[position[stage_id]] += n
            if status == DealStatus.WON:
                won_at[position[stage_id]] += n
    created_by_status = dict(
        db.session.execute(
            select(Deal.status, func.count(Deal.id)).where(*conds).group_by(Deal.status)
        ).all()
    )
    reached = {s.id: sum(n for pos, n in by_furthest.items() if pos >= s.position) for s in stages}
    medians = _medians(
        select(R.stage_id.label("stage_id"), R.days.label("days"))
        .select_from(Deal)
        .join(R, R.deal_id == Deal.id)
        .where(*conds, R.pipeline_id == pipeline.id, R.days.is_not(None))
    )
    last = stages[-1].position if stages else None
    return Funnel(
        pipeline,
        stages,
        sum(created_by_status.values()),
        reached,
        created_by_status.get(DealStatus.WON, 0),
        {s.id: (float(medians[s.id]) if s.id in medians else None) for s in stages},
        won_at.get(last, 0),
    )


def _medians(rows) -> dict[int, float]:
    """stage id → the median of `days` over `rows` (stage_id, days), in one statement:
    percentile_cont on PostgreSQL; on SQLite, rank within each stage and average the middle
    one or two."""
    spent = rows.subquery()
    if db.session.get_bind().dialect.name == "postgresql":
        median = func.percentile_cont(0.5).within_group(spent.c.days)
        return dict(
            db.session.execute(select(spent.c.stage_id, median).group_by(spent.c.stage_id)).all()
        )
    ranked = select(
        spent.c.stage_id,
        spent.c.days,
        func.row_number().over(partition_by=spent.c.stage_id, order_by=spent.c.days).label("rn"),
        func.count().over(partition_by=spent.c.stage_id).label("cnt"),
    ).subquery()
    return dict(
        db.session.execute(
            select(ranked.c.stage_id, func.avg(ranked.c.days))
            .where(ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2]))
            .group_by(ranked.c.stage_id)
        ).all()
    )
