"""flask crm …: create-team, sweep, backup, and `serve` started and stopped for real."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import select

from crm.extensions import db
from crm.models import Membership, Role, User
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_create_team_makes_an_owner(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "crm",
            "create-team",
            "--team",
            "Globex",
            "--name",
            "Hank",
            "--email",
            "hank@example.com",
            "--password",
            "a long enough password",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(User).where(User.email == "hank@example.com")).one()
    assert user.memberships[0].role == Role.OWNER
    again = runner.invoke(
        args=[
            "crm",
            "create-team",
            "--team",
            "Second",
            "--name",
            "Hank",
            "--email",
            "hank@example.com",
            "--password",
            "whatever it is",
        ]
    )
    assert again.exit_code == 0
    assert db.session.scalar(select(db.func.count()).select_from(Membership)) == 2


def test_create_team_refuses_a_short_password(app):
    result = app.test_cli_runner().invoke(
        args=[
            "crm",
            "create-team",
            "--team",
            "G",
            "--name",
            "H",
            "--email",
            "h@example.com",
            "--password",
            "short",
        ]
    )
    assert result.exit_code != 0 and "at least 10" in result.output


def test_sweep_reports_each_sweep(app):
    result = app.test_cli_runner().invoke(args=["crm", "sweep"])
    assert result.exit_code == 0 and "crm.outbox.sweep: 0" in result.output


def test_backup_copies_the_database(app, tmp_path, owner):
    result = app.test_cli_runner().invoke(args=["crm", "backup", "--to", str(tmp_path)])
    if db.engine.url.get_backend_name() != "sqlite":
        assert "pg_dump" in result.output
        return
    assert result.exit_code == 0, result.output
    backups = list(tmp_path.glob("rapport-*/rapport.db"))
    assert len(backups) == 1
    import sqlite3

    with sqlite3.connect(backups[0]) as conn:
        assert conn.execute("select email from user").fetchall() == [(owner.email,)]


def test_serve_runs_web_and_smtp_and_stops_on_ctrl_c(tmp_path):
    port, smtp_port = free_port(), free_port()
    env = {
        **os.environ,
        "CRM_DATA_DIR": str(tmp_path),
        "PORT": str(port),
        "SMTP_LISTEN": f"127.0.0.1:{smtp_port}",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    # No `db upgrade` first: `crm serve` applies the migrations itself (what `make run` relies on).
    # The one-process layout (what Windows gets); tests/integration/test_serve_processes.py
    # runs the default, gunicorn with a background process.
    server = subprocess.Popen(
        [*flask, "crm", "serve", "--single-process"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        body = None
        deadline = time.monotonic() + 60  # until the server answers (slow under load)
        while body is None and time.monotonic() < deadline and server.poll() is None:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/signup", timeout=1).read()
            except OSError:
                time.sleep(0.1)
        assert body is not None and b"Create your team" in body
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=5) as smtp:
            assert smtp.noop()[0] == 250
        server.send_signal(signal.SIGINT)
        assert server.wait(15) == 0
    finally:
        if server.poll() is None:
            server.kill()
    assert (tmp_path / "secret_key").exists()  # generated once, kept for the next start
    import sqlite3

    with sqlite3.connect(tmp_path / "rapport.db") as conn:  # serve migrated the new database
        assert conn.execute("select version_num from alembic_version").fetchone()
