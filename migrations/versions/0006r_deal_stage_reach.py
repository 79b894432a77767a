"""reports: the funnel's per-deal summary of the stage history (deal_stage_reach), back-filled;
covering indexes for the reports' reads of open and closed deals

Revision ID: 0006r
Revises: 0006i
Create Date: 2026-12-02 08:00:00

The back-fill derives the rows with crm.deals.history.reach_rows, the function record_stage
uses, so the summary of an upgraded database is what the app would have written.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006r"
down_revision = "0006i"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade():
    reach = op.create_table(
        "deal_stage_reach",
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("furthest", sa.Boolean(), nullable=False),
        sa.Column("days", sa.Float(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deal.id"], name="fk_deal_stage_reach_deal_id_deal", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"], ["stage.id"], name="fk_deal_stage_reach_stage_id_stage", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipeline.id"],
            name="fk_deal_stage_reach_pipeline_id_pipeline",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name="fk_deal_stage_reach_team_id_team", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("deal_id", "stage_id", name="pk_deal_stage_reach"),
    )
    op.create_index("ix_deal_stage_reach_team_id", "deal_stage_reach", ["team_id"])
    op.create_index(
        "ix_deal_stage_reach_deal",
        "deal_stage_reach",
        ["deal_id", "pipeline_id", "furthest", "stage_id", "days"],
    )
    backfill(op.get_bind(), reach)
    op.drop_index("ix_deal_team_closed", table_name="deal")  # ix_deal_report_closed covers it
    op.create_index("ix_deal_report_open", "deal", OPEN_COLUMNS)
    op.create_index("ix_deal_report_closed", "deal", CLOSED_COLUMNS)
    op.drop_index("ix_activity_team_report", table_name="activity")
    op.create_index("ix_activity_team_report", "activity", ACTIVITY_COLUMNS + ["deleted_at"])


ACTIVITY_COLUMNS = ["team_id", "occurred_at", "kind", "author_id"]


OPEN_COLUMNS = [
    "team_id",
    "status",
    "expected_close",
    "stage_id",
    "currency",
    "value_minor",
    "deleted_at",
    "pipeline_id",
    "owner_id",
    "created_at",
    "last_activity_at",
    "stage_entered_at",
]
CLOSED_COLUMNS = [
    "team_id",
    "status",
    "closed_at",
    "currency",
    "value_minor",
    "deleted_at",
    "pipeline_id",
    "owner_id",
    "created_at",
    "lost_reason_id",
]


def backfill(conn, reach) -> None:
    from crm.deals.history import reach_rows

    positions = dict(conn.execute(sa.text("SELECT id, position FROM stage")).all())
    history = conn.execute(
        sa.text(
            "SELECT deal_id, team_id, pipeline_id, stage_id, status, entered_at, left_at"
            " FROM deal_stage_history ORDER BY deal_id"
        )
    )
    pending: list[dict] = []
    current, team, chain = None, None, []

    def flush_deal():
        if current is not None:
            pending.extend(reach_rows(current, team, chain, positions))

    for deal_id, team_id, pipeline_id, stage_id, status, entered, left in history:
        if deal_id != current:
            flush_deal()
            current, team, chain = deal_id, team_id, []
            if len(pending) >= BATCH:
                conn.execute(reach.insert(), pending)
                pending = []
        chain.append((pipeline_id, stage_id, status, _moment(entered), _moment(left)))
    flush_deal()
    if pending:
        conn.execute(reach.insert(), pending)


def _moment(value):
    """SQLite hands raw text back through a textual query; PostgreSQL a datetime."""
    if value is None or not isinstance(value, str):
        return value
    from datetime import datetime

    return datetime.fromisoformat(value)


def downgrade():
    op.drop_index("ix_activity_team_report", table_name="activity")
    op.create_index("ix_activity_team_report", "activity", ACTIVITY_COLUMNS)
    op.drop_index("ix_deal_report_closed", table_name="deal")
    op.drop_index("ix_deal_report_open", table_name="deal")
    op.create_index("ix_deal_team_closed", "deal", ["team_id", "status", "closed_at"])
    op.drop_index("ix_deal_stage_reach_deal", table_name="deal_stage_reach")
    op.drop_index("ix_deal_stage_reach_team_id", table_name="deal_stage_reach")
    op.drop_table("deal_stage_reach")
