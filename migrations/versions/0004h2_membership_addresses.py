"""email-in addresses per membership; sender authentication verdicts

Revision ID: 0004h2
Revises: 0003e
Create Date: 2026-12-02 04:40:00

Each membership (team + user) gets its own email-in token. A user's existing token becomes the
address of their membership in their last-opened team (or their first team), so addresses
people already use keep working and file mail where they did; their other memberships get new
tokens. Mail is never routed by user again.

The user's old column stays (unused, filled with a random token for new users): dropping it
would rebuild the user table on SQLite, and with foreign keys on (as the app connects) that
rebuild cascades to every membership, task and deal that refers to a user. A later migration
can drop it once migrations run with foreign keys off.
"""

import secrets
import string

import sqlalchemy as sa
from alembic import op

revision = "0004h2"
down_revision = "0003e"
branch_labels = None
depends_on = None


def _token() -> str:
    # As crm.models.base.new_token (not imported: a migration must not change with the app).
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(12))


def upgrade():
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inbound_token", sa.String(length=32), nullable=True))

    conn = op.get_bind()
    users = sa.table(
        "user",
        sa.column("id", sa.Integer),
        sa.column("inbound_token", sa.String),
        sa.column("last_team_id", sa.Integer),
    )
    membership = sa.table(
        "membership",
        sa.column("id", sa.Integer),
        sa.column("team_id", sa.Integer),
        sa.column("user_id", sa.Integer),
        sa.column("inbound_token", sa.String),
    )
    rows = conn.execute(
        sa.select(
            membership.c.id,
            membership.c.team_id,
            membership.c.user_id,
            users.c.inbound_token,
            users.c.last_team_id,
        )
        .join(users, users.c.id == membership.c.user_id)
        .order_by(membership.c.user_id, membership.c.team_id)
    ).all()
    by_user: dict[int, list] = {}
    for row in rows:
        by_user.setdefault(row.user_id, []).append(row)
    taken = {row.inbound_token for row in rows if row.inbound_token}
    for memberships in by_user.values():
        keeper = next((m for m in memberships if m.team_id == m.last_team_id), memberships[0])
        for m in memberships:
            token = m.inbound_token if m is keeper and m.inbound_token else None
            while token is None or (token in taken and m is not keeper):
                token = _token()
            taken.add(token)
            conn.execute(
                membership.update().where(membership.c.id == m.id).values(inbound_token=token)
            )

    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.alter_column("inbound_token", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_membership_inbound_token"), ["inbound_token"]
        )
    # A plain-string default keeps this a native ADD COLUMN on SQLite (no table rebuild).
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "require_sender_auth", sa.Boolean(), server_default="0", nullable=False
            )
        )
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auth", sa.JSON(), nullable=True))


def downgrade():
    # Native DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch rebuild of `team` on SQLite would
    # cascade to every row of every team.
    op.execute("ALTER TABLE inbound_message DROP COLUMN auth")
    op.execute("ALTER TABLE team DROP COLUMN require_sender_auth")

    # The user's column was kept, and membership tokens were handed out from it: the old
    # addresses of each user's last team are still theirs. New memberships' tokens are lost.
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_membership_inbound_token"), type_="unique")
        batch_op.drop_column("inbound_token")
