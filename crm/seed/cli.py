"""`flask crm seed`: the command line of the synthetic data generator."""

from __future__ import annotations

import time

import click

from crm.seed.generate import ensure_team, seed


def register(group) -> None:
    @group.command("seed")
    @click.option("--team-name", default="Demo Co", show_default=True)
    @click.option("--contacts", type=int, default=1000, show_default=True)
    @click.option("--companies", type=int, default=200, show_default=True)
    @click.option("--activities", type=int, default=5000, show_default=True)
    @click.option("--deals", type=int, default=300, show_default=True)
    @click.option("--tasks", type=int, default=300, show_default=True)
    @click.option("--seed", "seed_value", type=int, default=1, show_default=True)
    @click.option(
        "--password",
        default="demo password 123",
        show_default=True,
        help="Password of the users created with a new team.",
    )
    def seed_command(
        team_name, contacts, companies, activities, deals, tasks, seed_value, password
    ):
        """Generate synthetic contacts, companies, timeline, deals and tasks for a team."""
        started = time.perf_counter()
        team, users = ensure_team(team_name, password)
        last = {"label": None}

        def progress(label: str, n: int) -> None:
            if label != last["label"]:
                if last["label"]:
                    click.echo("")
                last["label"] = label
            click.echo(f"\r  {label}: {n:,}", nl=False)

        counts = seed(
            team,
            users,
            contacts=contacts,
            companies=companies,
            activities=activities,
            deals=deals,
            tasks=tasks,
            seed_value=seed_value,
            progress=progress,
        )
        click.echo("")
        summary = ", ".join(f"{v:,} {k}" for k, v in counts.items() if v)
        click.echo(
            f"Seeded team {team.name!r} (id {team.id}): {summary} "
            f"in {time.perf_counter() - started:.1f} s."
        )
        click.echo(f"Log in as {users[0].email}" if users else "")
