"""webhooks: registered endpoints and their deliveries (outbox rows)

Revision ID: 0005e
Revises: 0004r
Create Date: 2026-12-02 05:30:00

"""

import sqlalchemy as sa
from alembic import op

import crm.models.base  # noqa: F401  (custom column types)

revision = "0005e"
down_revision = "0004h1"
branch_labels = None
depends_on = None

STATUS = sa.Enum(
    "pending", "sending", "delivered", "failed", name="deliverystatus", native_enum=False, length=16
)


def upgrade():
    op.create_table(
        "webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failing_since", crm.models.base.UTCDateTime(), nullable=True),
        sa.Column("paused_at", crm.models.base.UTCDateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name="fk_webhook_created_by_id_user", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name="fk_webhook_team_id_team", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook"),
    )
    op.create_index("ix_webhook_team_id", "webhook", ["team_id"])
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", crm.models.base.UTCDateTime(), nullable=True),
        sa.Column("claimed_at", crm.models.base.UTCDateTime(), nullable=True),
        sa.Column("last_attempt_at", crm.models.base.UTCDateTime(), nullable=True),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhook.id"],
            name="fk_webhook_delivery_webhook_id_webhook",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name="fk_webhook_delivery_team_id_team", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_delivery"),
    )
    op.create_index("ix_webhook_delivery_team_id", "webhook_delivery", ["team_id"])
    op.create_index(
        "ix_webhook_delivery_status_next", "webhook_delivery", ["status", "next_attempt_at"]
    )
    op.create_index("ix_webhook_delivery_webhook", "webhook_delivery", ["webhook_id", "id"])


def downgrade():
    op.drop_table("webhook_delivery")
    op.drop_table("webhook")
