"""Upgrading a database that already holds a team's data keeps every row.

On SQLite, Alembic's batch mode rebuilds a table to alter it (copy, DROP, rename). With
foreign keys enforced, that DROP deletes the rows of every table that references it with
ON DELETE CASCADE: upgrading through 0003t (which rebuilds "user") would silently remove
every membership. The migration environment turns enforcement off while it migrates and
checks the keys afterwards.
"""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from crm.extensions import db

NOW = "2026-01-01 00:00:00"


def test_upgrading_through_a_table_rebuild_keeps_the_rows_that_point_at_it(app):
    downgrade(revision="0003i")
    try:
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO team (id, name, currency, auto_create_contacts, created_at,"
                    " updated_at) VALUES (1, 'Acme', 'USD', true, :now, :now)"
                ),
                {"now": NOW},
            )
            conn.execute(
                text(
                    'INSERT INTO "user" (id, email, name, password_hash, timezone, inbound_token,'
                    " session_version, last_team_id, created_at, updated_at)"
                    " VALUES (1, 'ana@acme.example', 'Ana', 'x', 'UTC', 'tok12345', 1, 1,"
                    " :now, :now)"
                ),
                {"now": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO membership (id, team_id, user_id, role, created_at, updated_at)"
                    " VALUES (1, 1, 1, 'owner', :now, :now)"
                ),
                {"now": NOW},
            )
        upgrade()
        with db.engine.connect() as conn:
            members = conn.execute(text("SELECT team_id, user_id, role FROM membership")).all()
            users = conn.execute(text('SELECT email FROM "user"')).scalars().all()
        assert [tuple(m) for m in members] == [(1, 1, "owner")]
        assert users == ["ana@acme.example"]
    finally:
        with db.engine.begin() as conn:
            for table in ("user_session", "membership", '"user"', "team"):
                conn.execute(text(f"DELETE FROM {table}"))
        upgrade()
