"""email out: the files attached to a composed mail, referenced from its outbox row

Revision ID: 0006e
Revises: 0006a
Create Date: 2026-12-02 07:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006e"
down_revision = "0006a"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbound_email") as batch:
        batch.add_column(sa.Column("attachments", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("outbound_email") as batch:
        batch.drop_column("attachments")
