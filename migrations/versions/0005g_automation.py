"""automation: rules, their runs (the run log) and each action's effect

Revision ID: 0005g
Revises: 0004h1, 0005e
Create Date: 2026-12-02 06:05:00

"""

import sqlalchemy as sa
from alembic import op

import crm.models.base  # noqa: F401  (custom column types)

revision = "0005g"
# Both heads of this branch's chain (the coordinator re-chains when merging).
down_revision = "0004p"
branch_labels = None
depends_on = None

STATUS = sa.Enum(
    "pending",
    "running",
    "done",
    "failed",
    "stopped",
    name="runstatus",
    native_enum=False,
    length=16,
)
UTC = crm.models.base.UTCDateTime


def _team(table):
    return [
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=f"fk_{table}_team_id_team", ondelete="CASCADE"
        ),
    ]


def upgrade():
    op.create_table(
        "automation_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("trigger_config", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        *_team("automation_rule"),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user.id"],
            name="fk_automation_rule_created_by_id_user",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_automation_rule"),
    )
    op.create_index("ix_automation_rule_team_id", "automation_rule", ["team_id"])
    op.create_table(
        "automation_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=60), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("chain", sa.JSON(), nullable=False),
        sa.Column("fire_key", sa.String(length=80), nullable=True),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC(), nullable=True),
        sa.Column("claimed_at", UTC(), nullable=True),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        *_team("automation_run"),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["automation_rule.id"],
            name="fk_automation_run_rule_id_automation_rule",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_automation_run"),
        sa.UniqueConstraint("rule_id", "fire_key", name="uq_automation_run_fire"),
    )
    op.create_index("ix_automation_run_team_id", "automation_run", ["team_id"])
    op.create_index(
        "ix_automation_run_status_next", "automation_run", ["status", "next_attempt_at"]
    )
    op.create_index("ix_automation_run_rule", "automation_run", ["rule_id", "id"])
    op.create_table(
        "automation_effect",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("action_index", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["automation_run.id"],
            name="fk_automation_effect_run_id_automation_run",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_automation_effect"),
        sa.UniqueConstraint("run_id", "action_index", name="uq_automation_effect"),
    )


def downgrade():
    op.drop_table("automation_effect")
    op.drop_table("automation_run")
    op.drop_table("automation_rule")
