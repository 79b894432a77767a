"""flask --app app crm …: serve, worker, smtpd, create-team, sweep, backup."""

from __future__ import annotations

import logging
import shutil
import signal
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from crm.extensions import db
from crm.kernel import features, statistics

log = logging.getLogger(__name__)
crm = AppGroup("crm", help="Rapport commands.")


def register(app: Flask) -> None:
    """The `crm` group: the commands below plus those the features declare (seed, reindex…)."""
    app.cli.add_command(crm)
    features.add_commands(app, crm)


def _wait_for_stop() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@crm.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: $PORT or 5000.")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Web processes (gunicorn). Default: $WEB_WORKERS or one per core.",
)
@click.option("--threads", type=int, default=8, show_default=True, help="Waitress only.")
@click.option(
    "--single-process", is_flag=True, help="One waitress process (what Windows always gets)."
)
def serve(
    host: str, port: int | None, workers: int | None, threads: int, single_process: bool
) -> None:
    """The embedded all-in-one: web server, job worker, scheduler tick and SMTP listener."""
    from flask_migrate import upgrade

    from crm import serving

    app = current_app._get_current_object()
    port = port or app.config["PORT"]
    with app.app_context():
        upgrade()  # an up-to-date schema before anything reads it (no-op when current)
        statistics.optimize()  # a new index has no statistics; a restored file may have none
    db.engine.dispose()  # no connection of this process may leak into its children
    if not single_process and serving.available():
        workers = workers or serving.web_workers(app)
        raise SystemExit(serving.Supervisor(app, host, port, workers).run(echo=click.echo))
    _serve_waitress(app, host, port, threads)


def _serve_waitress(app: Flask, host: str, port: int, threads: int) -> None:
    """One process: waitress threads, the worker thread, the tick and the SMTP listener."""
    from waitress.server import create_server

    from crm.inbound.smtp import start_listener
    from crm.queue import EmbeddedRunner
    from crm.sweeps import run_sweeps

    features.on_serve(app)
    with app.app_context():
        run_sweeps()  # work left over from the last run is picked up at start-up
    runner = EmbeddedRunner(app)
    runner.start()
    smtp = start_listener(app)
    server = create_server(app, host=host, port=port, threads=threads)
    click.echo(
        f"Rapport is running at http://{host}:{port}  (email-in on "
        f"{smtp.hostname}:{smtp.port}, queue: "
        f"{'Redis' if app.config['REDIS_URL'] else 'in-process'}). Ctrl-C stops it."
    )
    stop = _wait_for_stop()
    web = threading.Thread(target=server.run, name="waitress", daemon=True)
    web.start()
    try:
        stop.wait()
    finally:
        click.echo("Stopping…")
        server.close()
        smtp.stop()
        runner.stop()
        db.engine.dispose()


@crm.command()
@click.option("--burst", is_flag=True, help="Work what is queued, then exit.")
def worker(burst: bool) -> None:
    """The RQ worker of the scaled mode (needs REDIS_URL), with RQ's scheduler.

    The minute sweeps run as a self-rescheduling RQ job (jobs.reminders.tick) that RQ's
    scheduler enqueues; its minute-keyed job id keeps one chain however many workers run.
    """
    from crm.queue import make_worker
    from crm.sweeps import run_sweeps
    from jobs.reminders import schedule_next_tick

    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        raise click.UsageError("Set REDIS_URL: without it `crm serve` runs the jobs in-process.")
    with app.app_context():
        run_sweeps()  # work left over from the last run is picked up at start-up
        if not burst:
            schedule_next_tick()
    make_worker(app).work(burst=burst, with_scheduler=True, logging_level="INFO")


@crm.command()
def smtpd() -> None:
    """Only the SMTP listener for email-in (scaled mode), on SMTP_LISTEN."""
    from crm.inbound.smtp import start_listener

    app = current_app._get_current_object()
    controller = start_listener(app)
    click.echo(f"email-in listening on {controller.hostname}:{controller.port}. Ctrl-C stops it.")
    stop = _wait_for_stop()
    try:
        stop.wait()
    finally:
        controller.stop()


@crm.command("create-team")
@click.option("--team", "team_name", required=True)
@click.option("--name", required=True, help="The owner's name.")
@click.option("--email", required=True, help="The owner's email.")
@click.password_option(help="The owner's password (asked for when not given).")
def create_team_command(team_name: str, name: str, email: str, password: str) -> None:
    """Create a team and its owner (an existing user becomes owner of the new team)."""
    from crm.auth import services
    from crm.auth.forms import MIN_PASSWORD
    from crm.errors import Invalid

    user = services.user_by_email(email)
    if user is None:
        if len(password) < MIN_PASSWORD:
            raise click.BadParameter(
                f"use at least {MIN_PASSWORD} characters", param_hint="password"
            )
        try:
            user = services.signup(name=name, email=email, password=password, team_name=team_name)
        except Invalid as error:
            raise click.ClickException(error.message) from None
        click.echo(f"Created team {team_name!r} with owner {user.email}.")
        return
    services.create_team(team_name, user)
    db.session.commit()
    click.echo(f"Created team {team_name!r}; {user.email} is its owner.")


@crm.command()
def sweep() -> None:
    """Run every sweep once: re-enqueue unsent email, due reminders, unprocessed mail."""
    from crm.sweeps import run_sweeps

    for name, result in run_sweeps().items():
        click.echo(f"{name}: {result}")


@crm.command()
@click.option(
    "--to",
    "target",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the backup (default: CRM_DATA_DIR/backups).",
)
def backup(target: Path | None) -> None:
    """Copy the SQLite database (online, consistent) and the data folder's files."""
    url = db.engine.url
    target = target or Path(current_app.config["CRM_DATA_DIR"]) / "backups"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = target / f"rapport-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() != "sqlite":
        raise click.ClickException(
            'For PostgreSQL use pg_dump: pg_dump --format=custom "$DATABASE_URL" > rapport.dump'
        )
    source = sqlite3.connect(url.database)
    dest = sqlite3.connect(folder / "rapport.db")
    with dest:
        source.backup(dest)  # SQLite's online backup: consistent while the app runs
    source.close()
    dest.close()
    data_dir = Path(current_app.config["CRM_DATA_DIR"])
    for name in ("attachments",):
        if (data_dir / name).exists():
            shutil.copytree(data_dir / name, folder / name)
    click.echo(f"Backup written to {folder}")
