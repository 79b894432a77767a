"""The seed command produces the counts asked, inside one team, deterministically."""

from __future__ import annotations

from sqlalchemy import func, select, text

from crm.extensions import db
from crm.kernel import statistics
from crm.models import (
    Activity,
    ActivityContact,
    Company,
    Contact,
    ContactEmail,
    Deal,
    Task,
    Team,
    deal_contact,
)
from crm.seed import generate


def _count(model, team_id):
    return db.session.scalar(
        select(func.count()).select_from(model).where(model.team_id == team_id)
    )


def test_seed_command_produces_the_counts_asked(app):
    result = app.test_cli_runner().invoke(
        args=[
            "crm",
            "seed",
            "--team-name",
            "Bench Co",
            "--contacts",
            "300",
            "--companies",
            "40",
            "--activities",
            "2000",
            "--deals",
            "25",
            "--tasks",
            "30",
            "--seed",
            "7",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Seeded team 'Bench Co'" in result.output
    team = db.session.scalars(select(Team).where(Team.name == "Bench Co")).one()
    assert _count(Contact, team.id) == 300
    assert _count(ContactEmail, team.id) == 300
    assert _count(Company, team.id) == 40
    assert _count(Activity, team.id) == 2000
    assert db.session.scalar(select(func.count()).select_from(ActivityContact)) == 2000
    assert _count(Deal, team.id) == 25
    assert db.session.scalar(select(func.count()).select_from(deal_contact)) == 25
    assert _count(Task, team.id) == 30
    # last_activity_at agrees with the timeline it was computed for
    contact_id, last = db.session.execute(
        select(ActivityContact.contact_id, func.max(ActivityContact.occurred_at))
        .group_by(ActivityContact.contact_id)
        .limit(1)
    ).one()
    assert db.session.get(Contact, contact_id).last_activity_at.replace(
        tzinfo=None
    ) == last.replace(tzinfo=None)
    # Running it again adds to the same team (no clashes on ids or unique emails)
    again = app.test_cli_runner().invoke(
        args=[
            "crm",
            "seed",
            "--team-name",
            "Bench Co",
            "--contacts",
            "10",
            "--companies",
            "0",
            "--activities",
            "0",
            "--deals",
            "0",
            "--tasks",
            "0",
        ]
    )
    assert again.exit_code == 0, again.output
    assert _count(Contact, team.id) == 310


def test_seed_is_deterministic(app):
    def names(seed_value):
        team, users = generate.ensure_team(
            f"Det {seed_value}-{db.session.scalar(select(func.count()).select_from(Team))}",
            "pw pw pw pw pw",
        )
        generate.seed(team, users, contacts=50, companies=5, seed_value=seed_value)
        return [
            (c.first_name, c.last_name, c.title)
            for c in db.session.scalars(
                select(Contact).where(Contact.team_id == team.id).order_by(Contact.id)
            )
        ]

    assert names(3) == names(3)
    assert names(3) != names(4)


def test_add_timeline(app):
    team, users = generate.ensure_team("Timeline Co", "pw pw pw pw pw")
    generate.seed(team, users, contacts=3, companies=1)
    contact = db.session.scalars(select(Contact).where(Contact.team_id == team.id)).first()
    generate.add_timeline(team.id, contact.id, 120)
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(ActivityContact)
            .where(ActivityContact.contact_id == contact.id)
        )
        == 120
    )


def _forget_statistics() -> None:
    """A database as a restore or a first start leaves it: no planner statistics."""
    if db.engine.url.get_backend_name() == "sqlite":
        db.session.execute(text("ANALYZE"))  # creates sqlite_stat1 if it is missing
        db.session.execute(text("DELETE FROM sqlite_stat1"))
        db.session.commit()
        assert not statistics.present()


def _contact_statistics() -> int:
    """Rows of planner statistics about the contact table."""
    if db.engine.url.get_backend_name() == "sqlite":
        return db.session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'contact'"))
    return db.session.scalar(
        text(
            "SELECT count(*) FROM pg_stats"
            " WHERE schemaname = current_schema() AND tablename = 'contact'"
        )
    )


def test_seed_command_ends_with_planner_statistics(app):
    _forget_statistics()
    result = app.test_cli_runner().invoke(
        args=["crm", "seed", "--team-name", "Stats Co", "--contacts", "50", "--companies", "5"]
    )
    assert result.exit_code == 0, result.output
    # Without them the search indexer's contact-name query walks every contact per batch.
    assert _contact_statistics() > 0


def test_reindex_gathers_statistics_when_there_are_none(app):
    team, users = generate.ensure_team("Reindex Co", "pw pw pw pw pw")
    generate.seed(team, users, contacts=20, companies=2)
    _forget_statistics()
    result = app.test_cli_runner().invoke(args=["crm", "reindex"])
    assert result.exit_code == 0, result.output
    assert statistics.present() and _contact_statistics() > 0
