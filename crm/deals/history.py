"""The stage history every report reads: written here only, by the deal services.

A deal's history is a chain of rows (stage, status, entered_at, left_at). Each change of stage
or status closes the open row at `at` and opens the next, in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from crm.extensions import db
from crm.models import Deal, DealStageHistory


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
