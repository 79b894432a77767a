"""reports: deal stage history (back-filled), weekly email opt-ins and claims, report indexes

Revision ID: 0004r
Revises: 0003e
Create Date: 2026-12-02 04:40:00

"""

import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op

import crm.models.base  # noqa: F401  (custom column types)

revision = "0004r"
down_revision = "0004h2"
branch_labels = None
depends_on = None

STATUS = sa.Enum("open", "won", "lost", name="dealstatus", native_enum=False, length=16)


def upgrade():
    op.create_table(
        "deal_stage_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=True),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("entered_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.Column("left_at", crm.models.base.UTCDateTime(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deal.id"], name="fk_deal_stage_history_deal_id_deal", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipeline.id"],
            name="fk_deal_stage_history_pipeline_id_pipeline",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["stage.id"],
            name="fk_deal_stage_history_stage_id_stage",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name="fk_deal_stage_history_team_id_team", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deal_stage_history"),
    )
    op.create_index("ix_deal_stage_history_team_id", "deal_stage_history", ["team_id"])
    op.create_index(
        "ix_deal_stage_history_deal",
        "deal_stage_history",
        ["deal_id", "left_at", "stage_id", "status", "entered_at"],
    )
    op.create_index(
        "ix_deal_stage_history_stage", "deal_stage_history", ["team_id", "stage_id", "entered_at"]
    )

    op.create_table(
        "report_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_report_subscription_user_id_user", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name="fk_report_subscription_team_id_team", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_report_subscription"),
        sa.UniqueConstraint("team_id", "user_id", name="uq_report_subscription_team_id_user_id"),
    )
    op.create_index("ix_report_subscription_team_id", "report_subscription", ["team_id"])
    op.create_index("ix_report_subscription_user_id", "report_subscription", ["user_id"])

    op.create_table(
        "weekly_report_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("iso_week", sa.String(length=10), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_weekly_report_claim_user_id_user", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbound_email.id"],
            name="fk_weekly_report_claim_outbox_id_outbound_email",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name="fk_weekly_report_claim_team_id_team", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_weekly_report_claim"),
        sa.UniqueConstraint(
            "team_id", "user_id", "iso_week", name="uq_weekly_report_claim_team_id_user_id_iso_week"
        ),
    )
    op.create_index("ix_weekly_report_claim_team_id", "weekly_report_claim", ["team_id"])

    # The reports' other reads: won/lost by close date, deals created in a period, activity
    # by week and author, completed tasks by week.
    with op.batch_alter_table("deal") as batch_op:
        batch_op.create_index("ix_deal_team_closed", ["team_id", "status", "closed_at"])
        batch_op.create_index(
            "ix_deal_team_created",
            ["team_id", "created_at", "pipeline_id", "status", "deleted_at", "owner_id"],
        )
    with op.batch_alter_table("activity") as batch_op:
        batch_op.create_index(
            "ix_activity_team_report", ["team_id", "occurred_at", "kind", "author_id"]
        )
    with op.batch_alter_table("task") as batch_op:
        batch_op.create_index("ix_task_team_done", ["team_id", "done_at", "assignee_id"])

    _backfill()


def _backfill():
    """Rebuild each deal's history from its timeline's stage-change entries where they exist,
    from its current stage (since creation) and close date otherwise."""
    conn = op.get_bind()
    deal = sa.table(
        "deal",
        sa.column("id", sa.Integer),
        sa.column("team_id", sa.Integer),
        sa.column("pipeline_id", sa.Integer),
        sa.column("stage_id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("created_at", crm.models.base.UTCDateTime),
        sa.column("closed_at", crm.models.base.UTCDateTime),
        sa.column("stage_entered_at", crm.models.base.UTCDateTime),
    )
    activity = sa.table(
        "activity",
        sa.column("id", sa.Integer),
        sa.column("deal_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("occurred_at", crm.models.base.UTCDateTime),
        sa.column("data", sa.JSON),
    )
    history = sa.table(
        "deal_stage_history",
        sa.column("team_id", sa.Integer),
        sa.column("deal_id", sa.Integer),
        sa.column("pipeline_id", sa.Integer),
        sa.column("stage_id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("entered_at", crm.models.base.UTCDateTime),
        sa.column("left_at", crm.models.base.UTCDateTime),
    )
    events: dict[int, list] = {}
    for deal_id, at, data in conn.execute(
        sa.select(activity.c.deal_id, activity.c.occurred_at, activity.c.data)
        .where(activity.c.kind == "stage_change", activity.c.deal_id.is_not(None))
        .order_by(activity.c.deal_id, activity.c.occurred_at, activity.c.id)
    ):
        if isinstance(data, str):
            data = json.loads(data)
        events.setdefault(deal_id, []).append((at, data or {}))
    batch: list[dict] = []
    for d in conn.execute(sa.select(deal)):
        rows = _chain(d, events.get(d.id, []))
        batch += rows
        if len(batch) >= 5000:
            conn.execute(history.insert(), batch)
            batch = []
    if batch:
        conn.execute(history.insert(), batch)


def _chain(d, events) -> list[dict]:
    created = d.created_at or d.stage_entered_at or d.closed_at
    if created is None:
        from datetime import datetime

        created = datetime.now(UTC)
    moves = [data for _, data in events if data.get("from_stage_id")]
    stage = moves[0]["from_stage_id"] if moves else d.stage_id
    rows = [dict(stage_id=stage, status="open", entered_at=created, left_at=None)]

    def step(at, stage_id, status):
        last = rows[-1]
        at = max(at, last["entered_at"])
        if (last["stage_id"], last["status"]) == (stage_id, status):
            return
        last["left_at"] = at
        rows.append(dict(stage_id=stage_id, status=status, entered_at=at, left_at=None))

    for at, data in events:
        current = rows[-1]
        if data.get("to_stage_id"):
            step(at, data["to_stage_id"], "open")
        elif data.get("status") in ("won", "lost", "open"):
            step(at, current["stage_id"], data["status"])
    # Whatever the timeline missed: the deal's state now is the truth.
    if (rows[-1]["stage_id"], rows[-1]["status"]) != (d.stage_id, d.status):
        at = (d.closed_at if d.status != "open" else d.stage_entered_at) or rows[-1]["entered_at"]
        step(at, d.stage_id, d.status)
    for row in rows:
        row.update(team_id=d.team_id, deal_id=d.id, pipeline_id=d.pipeline_id)
    return rows


def downgrade():
    with op.batch_alter_table("task") as batch_op:
        batch_op.drop_index("ix_task_team_done")
    with op.batch_alter_table("activity") as batch_op:
        batch_op.drop_index("ix_activity_team_report")
    with op.batch_alter_table("deal") as batch_op:
        batch_op.drop_index("ix_deal_team_created")
        batch_op.drop_index("ix_deal_team_closed")
    op.drop_table("weekly_report_claim")
    op.drop_table("report_subscription")
    op.drop_table("deal_stage_history")
