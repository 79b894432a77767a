"""leads: submissions are stored by the request and processed by a batched job

Revision ID: 0006l
Revises: 0006e
Create Date: 2026-12-02 07:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006l"
down_revision = "0006e"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs (no table rebuild on SQLite).
    op.add_column("lead_submission", sa.Column("claimed_at", sa.DateTime(), nullable=True))
    op.add_column(
        "lead_submission",
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("lead_submission", sa.Column("error", sa.Text(), nullable=True))
    op.add_column("lead_submission", sa.Column("released_at", sa.DateTime(), nullable=True))
    op.create_index("ix_lead_submission_status", "lead_submission", ["status", "id"])


def downgrade():
    op.drop_index("ix_lead_submission_status", "lead_submission")
    with op.batch_alter_table("lead_submission") as batch:
        batch.drop_column("released_at")
        batch.drop_column("error")
        batch.drop_column("attempts")
        batch.drop_column("claimed_at")
