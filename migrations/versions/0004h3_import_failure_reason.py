"""imports: the reason a failed import stopped

Revision ID: 0004h3
Revises: 0005m
Create Date: 2026-12-02 05:05:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0004h3"
down_revision = "0005c"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("import_job") as batch:
        batch.add_column(sa.Column("failure", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("import_job") as batch:
        batch.drop_column("failure")
