"""Planner statistics are gathered where they are missing or stale, and the search indexer's
contact-name read is fast without any (crm/kernel/statistics.py, crm/search/indexing.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from crm.extensions import db
from crm.kernel import statistics
from crm.search import indexing
from crm.seed import generate
from tests.factories import make_activity, make_contact, make_user, team_of


def _sqlite_only():
    if db.engine.url.get_backend_name() != "sqlite":
        pytest.skip("sqlite_stat1 is SQLite's; PostgreSQL's autovacuum keeps its own")


def _forget_statistics() -> None:
    db.session.execute(text("ANALYZE"))  # creates sqlite_stat1 if it is missing
    db.session.execute(text("DELETE FROM sqlite_stat1"))
    db.session.commit()
    db.session.remove()
    db.engine.dispose()  # a connection keeps the statistics it loaded; new ones read none


def _stat_rows(table: str) -> int:
    return db.session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = :t"), {"t": table})


@pytest.fixture
def seeded(app):
    team, users = generate.ensure_team("Stats Co", "pw pw pw pw pw")
    generate.seed(team, users, contacts=30, companies=3, activities=60)
    return team


def test_optimize_analyzes_a_table_that_has_rows_but_no_statistics(seeded):
    _sqlite_only()
    _forget_statistics()
    analyzed = statistics.optimize()
    assert "contact" in analyzed and "activity" in analyzed
    assert _stat_rows("contact") > 0
    assert statistics.stale_tables() == []  # and nothing is left to do


def test_optimize_analyzes_a_table_whose_size_moved_since_it_was_analyzed(seeded):
    _sqlite_only()
    statistics.analyze()
    # Statistics taken when the table held 100,000 contacts; it now holds 30.
    db.session.execute(
        text("UPDATE sqlite_stat1 SET stat = '100000 1' WHERE tbl = 'contact' AND idx IS NULL")
    )
    db.session.execute(
        text(
            "UPDATE sqlite_stat1 SET stat = '100000' || substr(stat, instr(stat, ' ')) "
            "WHERE tbl = 'contact'"
        )
    )
    db.session.commit()
    assert statistics.stale_tables() == ["contact"]
    assert statistics.optimize() == ["contact"]
    stat = db.session.scalar(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'contact' LIMIT 1"))
    assert stat.split()[0] == "30"


def test_an_index_without_statistics_makes_its_table_stale(seeded):
    """What a migration that adds an index leaves behind."""
    _sqlite_only()
    statistics.analyze()
    db.session.execute(text("CREATE INDEX ix_test_contact_title ON contact (title)"))
    db.session.commit()
    try:
        assert statistics.stale_tables() == ["contact"]
        statistics.optimize()
        assert db.session.scalar(
            text("SELECT count(*) FROM sqlite_stat1 WHERE idx = 'ix_test_contact_title'")
        )
    finally:
        db.session.execute(text("DROP INDEX ix_test_contact_title"))
        db.session.commit()


def test_the_daily_sweep_checks_once_a_day(seeded, monkeypatch):
    monkeypatch.setattr(statistics, "_last_sweep", {})
    assert statistics.sweep() != "checked today"
    assert statistics.present()
    assert statistics.sweep() == "checked today"


def test_the_indexer_reads_activity_names_by_primary_key_without_statistics(app):
    """Right after `crm seed` there are no statistics, and the join this replaced then started
    from the team's contacts: all 100,000 of them for every batch of 500 activities."""
    _sqlite_only()
    team = team_of(make_user())
    ada = make_contact(team, first_name="Ada", last_name="Lovelace")
    bob = make_contact(team, first_name="Bob", last_name="Babbage")
    gone = make_contact(team, first_name="Gone", last_name="Away")
    note = make_activity(team, contacts=[bob, ada, gone], body="met at the expo")
    gone.deleted_at = gone.created_at
    db.session.commit()
    team_id, note_id = team.id, note.id
    seeded_team, users = generate.ensure_team("Batch Co", "pw pw pw pw pw")
    generate.seed(seeded_team, users, contacts=50, companies=2, activities=600)
    batch = db.session.scalars(
        text("SELECT id FROM activity WHERE team_id = :t ORDER BY id LIMIT 499"),
        {"t": seeded_team.id},
    ).all()
    seeded_id = seeded_team.id
    _forget_statistics()

    assert indexing._activities(team_id, [note_id])[note_id]["subtitle"] == (
        "Note · Ada Lovelace · Bob Babbage"  # live contacts in id order, the trashed one left out
    )
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "contact" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        docs = indexing._activities(seeded_id, batch)  # a full batch, as a rebuild reads it
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(docs) > 400
    contact_steps = [
        row[3]
        for sql, params in statements
        for row in db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)
        if row[3].split()[:2] in (["SCAN", "contact"], ["SEARCH", "contact"])
    ]
    # Each contact is found by its id, never by walking the team's contacts.
    assert contact_steps and all("rowid=?" in step for step in contact_steps), contact_steps
