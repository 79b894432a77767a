"""events: the event outbox, written in the transaction of the change it tells of

Revision ID: 0006a
Revises: 0004h3
Create Date: 2026-12-02 07:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006a"
down_revision = "0004h3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "event_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_event_outbox_team_id", "event_outbox", ["team_id"])
    op.create_index("ix_event_outbox_unpublished", "event_outbox", ["published_at", "claimed_at"])
    # Who looks up a webhook's deliveries of one event (the fan-out, made idempotent).
    op.create_index("ix_webhook_delivery_event", "webhook_delivery", ["event_id", "webhook_id"])


def downgrade():
    op.drop_index("ix_webhook_delivery_event", table_name="webhook_delivery")
    op.drop_index("ix_event_outbox_unpublished", table_name="event_outbox")
    op.drop_index("ix_event_outbox_team_id", table_name="event_outbox")
    op.drop_table("event_outbox")
