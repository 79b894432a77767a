"""Contacts: an index for as-you-type search by last name

Revision ID: 0003c
Revises: 0002
Create Date: 2026-11-23 11:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003c"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_contact_team_last", "contact", ["team_id", sa.text("lower(last_name)")], unique=False
    )


def downgrade():
    op.drop_index("ix_contact_team_last", table_name="contact")
