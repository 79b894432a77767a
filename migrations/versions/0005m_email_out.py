"""email out: outbox headers, outgoing-mail dates and opt-out on contacts, email templates

Revision ID: 0005m
Revises: 0004r
Create Date: 2026-12-02 05:45:00

The outbox row carries what a composed mail needs beyond one address: the sender, Reply-To,
all recipients and extra headers (List-Unsubscribe, In-Reply-To). Contacts get the dates the
lists show ("last contacted", "last replied") and when they opted out of bulk mail.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005m"
down_revision = "0004r"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbound_email", schema=None) as batch_op:
        batch_op.add_column(sa.Column("from_addr", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("reply_to", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("recipients", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("headers", sa.JSON(), nullable=True))

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_contacted_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_replied_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("opted_out_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outbound_sender", sa.String(length=300), nullable=True))

    op.create_table(
        "email_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_email_template_team_id", "email_template", ["team_id"])


def downgrade():
    op.drop_index("ix_email_template_team_id", table_name="email_template")
    op.drop_table("email_template")
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_column("outbound_sender")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("opted_out_at")
        batch_op.drop_column("last_replied_at")
        batch_op.drop_column("last_contacted_at")
    with op.batch_alter_table("outbound_email", schema=None) as batch_op:
        batch_op.drop_column("headers")
        batch_op.drop_column("recipients")
        batch_op.drop_column("reply_to")
        batch_op.drop_column("from_addr")
