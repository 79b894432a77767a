"""API tokens and idempotency keys (issue 16)

Revision ID: 0004p
Revises: 0005m
"""

import sqlalchemy as sa
from alembic import op

import crm.models.base  # noqa: F401  (custom column types)

revision = "0004p"
down_revision = "0005m"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.Enum("read", "write", name="tokenscope", native_enum=False, length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("expires_at", crm.models.base.UTCDateTime(), nullable=True),
        sa.Column("last_used_at", crm.models.base.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", crm.models.base.UTCDateTime(), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("created_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["user.id"], name=op.f("fk_api_token_revoked_by_id_user"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_api_token_team_id_team"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_api_token_user_id_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_team_id"), ["team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_token_user_id"), ["user_id"], unique=False)

    op.create_table(
        "api_idempotency_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=True),
        sa.Column("created_at", crm.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["api_token.id"], name=op.f("fk_api_idempotency_key_token_id_api_token"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency_key")),
        sa.UniqueConstraint("token_id", "key", name=op.f("uq_api_idempotency_key_token_id_key")),
    )
    with op.batch_alter_table("api_idempotency_key", schema=None) as batch_op:
        batch_op.create_index("ix_api_idempotency_key_created", ["created_at"], unique=False)

    # Sync reads (`updated_since`, sort=updated) walk these instead of sorting a whole team.
    for table in ("contact", "company", "deal", "task"):
        op.create_index(f"ix_{table}_team_updated", table, ["team_id", "updated_at", "id"])


def downgrade():
    for table in ("contact", "company", "deal", "task"):
        op.drop_index(f"ix_{table}_team_updated", table_name=table)
    op.drop_table("api_idempotency_key")
    op.drop_table("api_token")
