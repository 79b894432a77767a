"""leads, web-to-lead forms, submissions (spam list), assignment rules and rotations; away

Revision ID: 0005l
Revises: 0005g
Create Date: 2026-12-02 05:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005l"
down_revision = "0005g"
branch_labels = None
depends_on = None


def _team():
    return sa.Column(
        "team_id", sa.Integer(), sa.ForeignKey("team.id", ondelete="CASCADE"), nullable=False
    )


def _stamps():
    return [sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False)]


def upgrade():
    op.create_table(
        "lead_form",
        sa.Column("id", sa.Integer(), primary_key=True),
        _team(),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("token", sa.String(32), nullable=False, unique=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("required", sa.JSON(), nullable=False),
        sa.Column("hidden", sa.JSON(), nullable=False),
        sa.Column("thank_you", sa.Text()),
        sa.Column("redirect_url", sa.String(500)),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        sa.Column("tag", sa.String(60)),
        sa.Column("stage_id", sa.Integer(), sa.ForeignKey("stage.id", ondelete="SET NULL")),
        sa.Column("create_task", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_stamps(),
    )
    op.create_index("ix_lead_form_team_id", "lead_form", ["team_id"])
    op.create_table(
        "lead_rule",
        sa.Column("id", sa.Integer(), primary_key=True),
        _team(),
        sa.Column("form_id", sa.Integer(), sa.ForeignKey("lead_form.id", ondelete="CASCADE")),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("pool", sa.JSON(), nullable=False),
        sa.Column("field", sa.String(40)),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("fallback_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="SET NULL")),
        *_stamps(),
        sa.UniqueConstraint("team_id", "form_id"),
    )
    op.create_index("ix_lead_rule_team_id", "lead_rule", ["team_id"])
    op.create_table(
        "lead_rotation",
        sa.Column("id", sa.Integer(), primary_key=True),
        _team(),
        sa.Column("pool_key", sa.String(200), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.UniqueConstraint("team_id", "pool_key"),
    )
    op.create_index("ix_lead_rotation_team_id", "lead_rotation", ["team_id"])
    op.create_table(
        "lead",
        sa.Column("id", sa.Integer(), primary_key=True),
        _team(),
        sa.Column(
            "contact_id",
            sa.Integer(),
            sa.ForeignKey("contact.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("source", sa.String(100)),
        sa.Column("form_id", sa.Integer(), sa.ForeignKey("lead_form.id", ondelete="SET NULL")),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="SET NULL")),
        sa.Column("arrived_at", sa.DateTime(), nullable=False),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id", ondelete="SET NULL")),
        *_stamps(),
        sa.UniqueConstraint("team_id", "contact_id"),
    )
    op.create_index("ix_lead_team_id", "lead", ["team_id"])
    op.create_index("ix_lead_team_status", "lead", ["team_id", "status", "arrived_at"])
    op.create_index("ix_lead_team_assignee", "lead", ["team_id", "assignee_id", "status"])
    op.create_table(
        "lead_submission",
        sa.Column("id", sa.Integer(), primary_key=True),
        _team(),
        sa.Column(
            "form_id",
            sa.Integer(),
            sa.ForeignKey("lead_form.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("remote_addr", sa.String(64)),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contact.id", ondelete="SET NULL")),
        *_stamps(),
    )
    op.create_index("ix_lead_submission_team_id", "lead_submission", ["team_id"])
    op.create_index("ix_lead_submission_form_id", "lead_submission", ["form_id"])
    op.create_index(
        "ix_lead_submission_team_status", "lead_submission", ["team_id", "status", "id"]
    )
    # A plain ADD COLUMN (no table rebuild on SQLite).
    op.add_column(
        "membership", sa.Column("away", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade():
    with op.batch_alter_table("membership") as batch_op:
        batch_op.drop_column("away")
    for table in ("lead_submission", "lead", "lead_rotation", "lead_rule", "lead_form"):
        op.drop_table(table)
