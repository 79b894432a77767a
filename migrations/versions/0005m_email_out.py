"""email out: outbox headers, outgoing-mail dates and opt-out on contacts, email templates

Revision ID: 0005m
Revises: 0004r
Create Date: 2026-12-02 05:45:00

Bulk sends (one recipient row per person, each with its outbox row), sequences with their
steps, enrolments and the one-row-per-step record that keeps a step from being done twice, and
the "bouncing" mark on an address.

The outbox row carries what a composed mail needs beyond one address: the sender, Reply-To,
all recipients and extra headers (List-Unsubscribe, In-Reply-To). Contacts get the dates the
lists show ("last contacted", "last replied") and when they opted out of bulk mail.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005m"
down_revision = "0005e"
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

    with op.batch_alter_table("contact_email", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bouncing_at", sa.DateTime(), nullable=True))

    op.create_table(
        "bulk_send",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("audience", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bulk_send_team_id", "bulk_send", ["team_id"])
    op.create_table(
        "bulk_recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulk_send_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("skipped", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["bulk_send_id"], ["bulk_send.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbound_email.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bulk_send_id", "contact_id"),
    )
    op.create_index("ix_bulk_recipient_outbox_id", "bulk_recipient", ["outbox_id"])
    op.create_table(
        "sequence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sequence_team_id", "sequence", ["team_id"])
    op.create_table(
        "sequence_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("sequence_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("delay_days", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("task_title", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sequence_id"], ["sequence.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["template_id"], ["email_template.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sequence_step_team_id", "sequence_step", ["team_id"])
    op.create_table(
        "enrolment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("sequence_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("enrolled_by_id", sa.Integer(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("stop_reason", sa.String(length=40), nullable=True),
        sa.Column("last_message_id", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sequence_id"], ["sequence.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["deal_id"], ["deal.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["enrolled_by_id"], ["user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sequence_id", "contact_id"),
    )
    op.create_index("ix_enrolment_team_id", "enrolment", ["team_id"])
    op.create_index("ix_enrolment_status_due", "enrolment", ["status", "next_at"])
    op.create_table(
        "enrolment_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["enrolment_id"], ["enrolment.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbound_email.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enrolment_id", "position"),
    )


def downgrade():
    op.drop_table("enrolment_step")
    op.drop_index("ix_enrolment_status_due", table_name="enrolment")
    op.drop_index("ix_enrolment_team_id", table_name="enrolment")
    op.drop_table("enrolment")
    op.drop_index("ix_sequence_step_team_id", table_name="sequence_step")
    op.drop_table("sequence_step")
    op.drop_index("ix_sequence_team_id", table_name="sequence")
    op.drop_table("sequence")
    op.drop_index("ix_bulk_recipient_outbox_id", table_name="bulk_recipient")
    op.drop_table("bulk_recipient")
    op.drop_index("ix_bulk_send_team_id", table_name="bulk_send")
    op.drop_table("bulk_send")
    with op.batch_alter_table("contact_email", schema=None) as batch_op:
        batch_op.drop_column("bouncing_at")
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
