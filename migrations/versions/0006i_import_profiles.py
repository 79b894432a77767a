"""imports: remembered column mappings, the recognised export, a team's default country,
the kind of records an import holds, external ids of imported contacts and companies

Revision ID: 0006i
Revises: 0006l
Create Date: 2026-12-02 07:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006i"
down_revision = "0006l"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_mapping",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "team_id", sa.Integer(), sa.ForeignKey("team.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("team_id", "fingerprint", name="uq_import_mapping_header"),
    )
    op.create_index("ix_import_mapping_team_id", "import_mapping", ["team_id"])
    with op.batch_alter_table("import_job") as batch:
        batch.add_column(sa.Column("profile", sa.String(40), nullable=True))
        batch.add_column(
            sa.Column("kind", sa.String(20), nullable=False, server_default="contacts")
        )
    with op.batch_alter_table("team") as batch:
        batch.add_column(sa.Column("default_country", sa.String(2), nullable=True))
    # Plain ADD COLUMN and a unique index: no table rebuild on SQLite for the big tables.
    for table in ("contact", "company"):
        op.add_column(table, sa.Column("external_source", sa.String(40), nullable=True))
        op.add_column(table, sa.Column("external_id", sa.String(100), nullable=True))
        op.create_index(
            f"uq_{table}_external",
            table,
            ["team_id", "external_source", "external_id"],
            unique=True,
        )


def downgrade():
    for table in ("contact", "company"):
        op.drop_index(f"uq_{table}_external", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("external_id")
            batch.drop_column("external_source")
    with op.batch_alter_table("team") as batch:
        batch.drop_column("default_country")
    with op.batch_alter_table("import_job") as batch:
        batch.drop_column("kind")
        batch.drop_column("profile")
    op.drop_index("ix_import_mapping_team_id", table_name="import_mapping")
    op.drop_table("import_mapping")
