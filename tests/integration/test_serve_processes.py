"""`crm serve` as a team runs it: gunicorn web processes plus one background process, for real.

Started as a subprocess on free ports with two web workers: pages come from both processes,
email-in through SMTP is processed by a job on the shared queue and lands on a contact's
timeline, and Ctrl-C (SIGINT) leaves no process behind.
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from crm import serving
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "app"]


def _children(pid: int) -> set[int]:
    """Every descendant of pid (from /proc)."""
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                if kid not in found:
                    found.add(kid)
                    todo.append(kid)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _get(url: str) -> bytes | None:
    try:
        return urllib.request.urlopen(url, timeout=5).read()
    except OSError:
        return None


@pytest.mark.skipif(not serving.available() or not Path("/proc").exists(), reason="Linux only")
def test_serve_with_two_web_processes_shares_the_queue_and_stops_on_ctrl_c(tmp_path):
    port, smtp_port = free_port(), free_port()
    env = {
        **os.environ,
        "CRM_DATA_DIR": str(tmp_path),
        "PORT": str(port),
        "SMTP_LISTEN": f"127.0.0.1:{smtp_port}",
        "WEB_WORKERS": "2",
        "LOG_LEVEL": "WARNING",
        "INBOUND_DOMAIN": "in.serve.test",
        "INBOUND_DKIM_CHECK": "0",
        # The process id of whoever answered each request, in gunicorn's access log.
        "GUNICORN_CMD_ARGS": "--access-logfile - --access-logformat 'served-by %(p)s %(U)s'",
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    migrated = subprocess.run(
        [*FLASK, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert migrated.returncode == 0, migrated.stderr
    seeded = subprocess.run(
        [*FLASK, "crm", "seed", "--team-name", "Serve Co", "--contacts", "5", "--companies", "1"]
        + ["--activities", "0", "--deals", "0", "--tasks", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    with sqlite3.connect(tmp_path / "rapport.db") as conn:
        owner, token = conn.execute(
            "SELECT u.email, m.inbound_token FROM user u JOIN membership m ON m.user_id = u.id"
            " WHERE u.email LIKE 'owner@%'"
        ).fetchone()
        contact_id, contact_email = conn.execute(
            "SELECT contact_id, email FROM contact_email ORDER BY contact_id LIMIT 1"
        ).fetchone()

    server = subprocess.Popen(
        [*FLASK, "crm", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(server.stdout), daemon=True)
    reader.start()
    try:
        # Four processes start on a shared 2-core machine: minutes under a heavy load.
        _until(lambda: _get(f"http://127.0.0.1:{port}/healthz") is not None, 300, "the web")
        # Sync workers answer one request at a time: eight at once reach both.
        # A worker still booting (warming its searcher) answers nothing yet: keep asking
        # until both have answered, for as long as a loaded machine may need.
        with ThreadPoolExecutor(8) as pool:
            deadline = time.monotonic() + 180
            while len(_served_by(output)) < 2 and time.monotonic() < deadline:
                pages = list(pool.map(_get, [f"http://127.0.0.1:{port}/signup"] * 8))
                assert all(p and b"Create your team" in p for p in pages)
        assert len(_served_by(output)) >= 2, output

        raw = (
            f"From: Olive <{owner}>\r\nTo: {contact_email}\r\nSubject: Renewal terms\r\n"
            "Message-ID: <serve-1@serve.test>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\n"
            "Ten seats, net 30.\r\n"
        )
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            assert smtp.sendmail(owner, [f"{token}@in.serve.test"], raw) == {}

        def on_timeline():
            with sqlite3.connect(tmp_path / "rapport.db") as conn:
                return conn.execute(
                    "SELECT a.subject FROM activity a JOIN activity_contact ac "
                    "ON ac.activity_id = a.id WHERE ac.contact_id = ?",
                    (contact_id,),
                ).fetchall()

        assert _until(on_timeline, 120, "the email on the timeline") == [("Renewal terms",)]

        family = _children(server.pid)
        assert len(family) >= 4  # background, gunicorn arbiter, two web workers
        server.send_signal(signal.SIGINT)
        assert server.wait(60) == 0
        _until(lambda: not any(_alive(pid) for pid in family), 30, "every process to stop")
    except BaseException:
        print("".join(output))  # what the server said, next to the failure
        raise
    finally:
        if server.poll() is None:
            for pid in _children(server.pid):
                os.kill(pid, signal.SIGKILL)
            server.kill()


def _served_by(lines: list[str]) -> set[str]:
    return {m.group(1) for line in list(lines) if (m := re.search(r"served-by <?(\d+)", line))}
