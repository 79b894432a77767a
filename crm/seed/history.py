"""`crm seed` for the reports: a stage history for every seeded deal, consistent with it.

Each deal starts in the first stage on its creation day and climbs to the stage it is in now,
sometimes stepping back one stage and forward again; a won or lost deal gets its closing row
on its close date. About four rows per deal, like a real pipeline's history. The funnel's
summary (deal_stage_reach) is derived from those rows by the function record_stage uses.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from crm.deals.history import reach_rows
from crm.extensions import db
from crm.models import Deal, DealStageHistory, DealStageReach, Stage


def seed_stage_history(
    team_id: int,
    first_deal_id: int,
    *,
    seed_value: int = 1,
    progress: Callable[[str, int], None] = lambda label, n: None,
) -> int:
    from crm.seed import bulk

    rng = random.Random(seed_value * 7919)
    now = datetime.now(UTC).replace(microsecond=0)
    stages: dict[int, list[int]] = {}
    positions: dict[int, int] = {}
    reach: list[dict] = []
    for pipeline_id, stage_id, position in db.session.execute(
        select(Stage.pipeline_id, Stage.id, Stage.position)
        .where(Stage.team_id == team_id)
        .order_by(Stage.pipeline_id, Stage.position)
    ):
        stages.setdefault(pipeline_id, []).append(stage_id)
        positions[stage_id] = position
    deals = db.session.execute(
        select(
            Deal.id, Deal.pipeline_id, Deal.stage_id, Deal.status, Deal.created_at, Deal.closed_at
        ).where(Deal.team_id == team_id, Deal.id >= first_deal_id)
    ).all()
    entered_now: list[dict] = []

    def gen():
        for deal_id, pipeline_id, stage_id, status, created, closed in deals:
            order = stages[pipeline_id]
            target = order.index(stage_id) if stage_id in order else 0
            path = list(range(target + 1))
            while target >= 1 and rng.random() < 0.45:  # a step back, then forward again
                k = rng.randint(1, target)
                i = path.index(k)
                path = path[: i + 1] + [k - 1] + path[i:]
            end = closed or now
            span = max((end - created).total_seconds(), len(path))
            cuts = sorted(rng.random() * span for _ in range(len(path) - 1))
            moments = [created] + [
                (created + timedelta(seconds=c)).replace(microsecond=0) for c in cuts
            ]
            rows = []
            for i, (step, at) in enumerate(zip(path, moments, strict=True)):
                left = moments[i + 1] if i + 1 < len(moments) else None
                rows.append((order[step], "open", at, left))
            if status.value != "open" and closed is not None:
                stage, _, at, _ = rows[-1]
                rows[-1] = (stage, "open", at, closed)
                rows.append((stage, status.value, closed, None))
            entered_now.append({"id": deal_id, "entered": rows[-1][2]})
            chain = [(pipeline_id, stage, st, at, left) for stage, st, at, left in rows]
            reach.extend(reach_rows(deal_id, team_id, chain, positions))
            for stage, row_status, at, left in rows:
                yield {
                    "team_id": team_id,
                    "deal_id": deal_id,
                    "pipeline_id": pipeline_id,
                    "stage_id": stage,
                    "status": row_status,
                    "entered_at": at,
                    "left_at": left,
                }

    total = bulk.write_rows(DealStageHistory.__table__, gen(), progress, "stage changes")
    bulk.write_rows(DealStageReach.__table__, iter(reach), progress, "funnel summary rows")
    for batch in bulk.batches(iter(entered_now)):
        db.session.execute(
            update(Deal),
            [{"id": r["id"], "stage_entered_at": r["entered"]} for r in batch],
        )
        db.session.commit()
    return total
