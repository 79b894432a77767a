"""Funnel: how far the deals created in a period got, conversion, median days in stage."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import case, func, select

from crm.extensions import db
from crm.models import (
    Deal,
    DealStageHistory,
    DealStatus,
    Pipeline,
    Stage,
)
from crm.reports.periods import ReportFilters
from crm.reports.reads.common import (
    deal_scope,
)
from crm.reports.sqlfn import days_between


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
    """Three GROUP BY queries; only a handful of rows per stage reach Python."""
    if pipeline is None:
        return Funnel(None, [], 0, {}, 0, {})
    stages = list(pipeline.stages)
    conds = deal_scope(f) + [
        Deal.pipeline_id == pipeline.id,
        Deal.created_at >= f.start,
        Deal.created_at < f.end,
    ]
    H = DealStageHistory
    # Each deal's furthest stage (by position) in this pipeline, with its status now. The
    # positions come as a CASE, not a join to stage: SQLite would otherwise loop over stages.
    stage_ids = [s.id for s in stages]
    position = case({s.id: s.position for s in stages}, value=H.stage_id, else_=-1)
    per_deal = (
        select(func.max(position).label("furthest"), Deal.status.label("status"))
        .join(Deal, Deal.id == H.deal_id)
        # Scoped through the deal (conds: Deal.team_id), so the history index covers it.
        .where(H.stage_id.in_(stage_ids), *conds)
        .group_by(H.deal_id, Deal.status)
        .subquery()
    )
    by_furthest: dict[int, int] = defaultdict(int)
    won_at: dict[int, int] = defaultdict(int)
    for furthest, status, n in db.session.execute(
        select(per_deal.c.furthest, per_deal.c.status, func.count()).group_by(
            per_deal.c.furthest, per_deal.c.status
        )
    ):
        by_furthest[furthest] += n
        if status == DealStatus.WON:
            won_at[furthest] += n
    created_by_status = dict(
        db.session.execute(
            select(Deal.status, func.count(Deal.id)).where(*conds).group_by(Deal.status)
        ).all()
    )
    reached = {s.id: sum(n for pos, n in by_furthest.items() if pos >= s.position) for s in stages}
    # Median of each deal's days in a stage (its finished visits added up), in SQL: rank the
    # per-deal sums within each stage and average the middle one or two.
    spent = (
        select(
            H.stage_id.label("stage_id"),
            func.sum(days_between(H.entered_at, H.left_at)).label("days"),
        )
        .join(Deal, Deal.id == H.deal_id)
        .where(
            H.status == DealStatus.OPEN,
            H.left_at.is_not(None),
            H.stage_id.in_(stage_ids),
            *conds,
        )
        .group_by(H.stage_id, H.deal_id)
        .subquery()
    )
    ranked = select(
        spent.c.stage_id,
        spent.c.days,
        func.row_number().over(partition_by=spent.c.stage_id, order_by=spent.c.days).label("rn"),
        func.count().over(partition_by=spent.c.stage_id).label("cnt"),
    ).subquery()
    medians = dict(
        db.session.execute(
            select(ranked.c.stage_id, func.avg(ranked.c.days))
            .where(ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2]))
            .group_by(ranked.c.stage_id)
        ).all()
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
