"""custom fields (definitions, typed values), saved views and default views

Revision ID: 0005c
Revises: 0005g
Create Date: 2026-12-02 05:40:00

Adding a custom field later is an INSERT into custom_field: no DDL, no downtime.
"""

import sqlalchemy as sa
from alembic import op

import crm.models.base  # noqa: F401  (custom column types)

revision = "0005c"
down_revision = "0005l"
branch_labels = None
depends_on = None


def _team():
    return sa.Column(
        "team_id", sa.Integer(), sa.ForeignKey("team.id", ondelete="CASCADE"), nullable=False
    )


def upgrade():
    op.create_table(
        "custom_field",
        sa.Column("id", sa.Integer(), primary_key=True),
        _team(),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("help_text", sa.String(200), nullable=False),
        sa.Column("section", sa.String(60), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("deleted_at", crm.models.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_custom_field_team_id", "custom_field", ["team_id"])
    op.create_index(
        "ix_custom_field_team_entity", "custom_field", ["team_id", "entity", "position"]
    )
    op.create_table(
        "custom_value",
        sa.Column("id", sa.Integer(), primary_key=True),
        _team(),
        sa.Column(
            "field_id",
            sa.Integer(),
            sa.ForeignKey("custom_field.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("text_value", sa.String(500), nullable=True),
        sa.Column("long_value", sa.Text(), nullable=True),
        sa.Column("number_value", sa.Float(), nullable=True),
        sa.Column("date_value", sa.Date(), nullable=True),
    )
    op.create_index("ix_custom_value_team_id", "custom_value", ["team_id"])
    op.create_index("ix_custom_value_record", "custom_value", ["record_id", "field_id"])
    op.create_index(
        "ix_custom_value_text", "custom_value", ["field_id", "text_value", "record_id"]
    )
    op.create_index(
        "ix_custom_value_number", "custom_value", ["field_id", "number_value", "record_id"]
    )
    op.create_index(
        "ix_custom_value_date", "custom_value", ["field_id", "date_value", "record_id"]
    )
    op.create_table(
        "saved_view",
        sa.Column("id", sa.Integer(), primary_key=True),
        _team(),
        sa.Column("list_name", sa.String(20), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column(
            "owner_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_saved_view_team_id", "saved_view", ["team_id"])
    op.create_index("ix_saved_view_team_list", "saved_view", ["team_id", "list_name"])
    op.create_table(
        "default_view",
        sa.Column("id", sa.Integer(), primary_key=True),
        _team(),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("list_name", sa.String(20), nullable=False),
        sa.Column(
            "view_id",
            sa.Integer(),
            sa.ForeignKey("saved_view.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index("ix_default_view_team_id", "default_view", ["team_id"])
    op.create_index(
        "uq_default_view_user_list",
        "default_view",
        ["team_id", "user_id", "list_name"],
        unique=True,
    )


def downgrade():
    op.drop_table("default_view")
    op.drop_table("saved_view")
    op.drop_table("custom_value")
    op.drop_table("custom_field")
