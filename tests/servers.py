"""Real servers for tests: redis-server on a free loopback port."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time

import pytest

from tests.conftest import need


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    binary = shutil.which("redis-server")
    need(binary is not None, "redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(5)


@contextlib.contextmanager
def second_app(app, **overrides):
    """Another app on the same database (e.g. the scaled mode with a real Redis).

    Flask-Limiter keeps one storage per Limiter object, and ours is a module-level singleton:
    put the test app's storage back afterwards.
    """
    from crm import create_app
    from crm.extensions import db, limiter

    saved = dict(limiter.__dict__)
    config = {
        "TESTING": True,
        "SECRET_KEY": "x",
        "WTF_CSRF_ENABLED": False,
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "CRM_DATA_DIR": app.config["CRM_DATA_DIR"],
        "MAIL_SERVER": None,
        "PASSWORD_HASH_METHOD": app.config.get("PASSWORD_HASH_METHOD"),
    } | overrides
    other = create_app(config)
    try:
        yield other
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
        limiter.__dict__.update(saved)
