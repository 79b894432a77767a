"""Fixtures: one app and one migrated database per session, emptied after every test.

The database is SQLite in a temporary folder, or PostgreSQL when TEST_DATABASE_URL is set (CI
runs the suite on both). System services (Chromium, redis-server, PostgreSQL) are optional on a
laptop, where their tests skip with a reason, and required when CI=true, where they fail.

`make test` runs the suite in parallel (pytest-xdist): each worker is its own process with its own
app, data folder (SQLite file, search index, attachments) and in-memory queue, and on PostgreSQL
its own schema in the one test database (CI's role may not create databases). docs/development.md
explains why each fixture is shaped the way it is.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, make_url, text

from crm import create_app
from crm.extensions import db, limiter
from tests import factories

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_PASSWORD = factories.PASSWORD


def need(available: bool, reason: str) -> None:
    """Skip a test whose system service is missing, except in CI where that is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="rapport-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


# "gw0", "gw1", … under pytest-xdist; None in a plain `pytest` run.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def worker_schema() -> str:
    """The PostgreSQL schema this process's tables live in: one per xdist worker."""
    return f"rapport_{WORKER}" if WORKER else "public"


def _with_search_path(url: str, schema: str) -> str:
    """`url` with every connection's search_path set to `schema` (a libpq startup option), so
    the migrations, the app, second apps and raw SQL all see this worker's tables only."""
    parsed = make_url(url)
    options = " ".join(filter(None, [parsed.query.get("options"), f"-csearch_path={schema}"]))
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(data_dir):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{data_dir / 'test.db'}"
        return
    schema = worker_schema()
    if schema != "public":
        url = _with_search_path(url, schema)
    _reset_schema(url, schema)
    yield url
    if schema != "public":  # leave the database as tidy as it was found
        _drop_schema(url, schema)


def _reset_schema(url: str, schema: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


def _drop_schema(url: str, schema: str) -> None:
    """Drop this worker's schema at the end; a connection still open somewhere (a thread a test
    left behind) must not hang the run, so give up after a few seconds: the next run's
    _reset_schema drops it anyway."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    except Exception as error:  # noqa: BLE001 - tidying up must not fail a green run
        logging.getLogger(__name__).warning("could not drop schema %s: %s", schema, error)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def app(data_dir, database_url):
    os.environ["CRM_DATA_DIR"] = str(data_dir)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "CRM_DATA_DIR": str(data_dir),
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "BASE_URL": "http://localhost",
            "SERVER_NAME": None,
            "INBOUND_DOMAIN": "in.rapport.test",
            "INBOUND_SECRET": "inbound-test-secret",
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            # Search results must not depend on how loaded the machine is.
            "SEARCH_TIME_BUDGETS": False,
            # scrypt costs ~70 ms a hash, most of it in fixtures; one PBKDF2 round is enough here.
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
            # Test receivers listen on 127.0.0.1; the SSRF tests turn this off.
            "WEBHOOKS_ALLOW_PRIVATE": True,
        }
    )
    with app.app_context():
        upgrade()  # the schema comes from the migrations, as in production
    # Tests keep an app context pushed (for factories and db.session), and Flask reuses it for
    # requests; start every request with an empty `g` as a real request would.
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_g)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # no idle connection may hold the schema that is dropped next


def _fresh_g() -> None:
    from flask import g

    for name in list(g):
        g.pop(name)


BACKGROUND_THREADS = ("rq-worker", "scheduler-tick", "email-in-writer")


def _wait_for_background_threads() -> None:
    """A worker thread an earlier test stopped may still be finishing a job (stop() gives up
    after a timeout under load): let it end so it never claims this test's jobs."""
    for thread in threading.enumerate():
        if thread.name in BACKGROUND_THREADS and thread is not threading.current_thread():
            thread.join(60)


@pytest.fixture(autouse=True)
def _clean(request, app):
    """Each test starts with an empty database, queue and rate limiter."""
    _wait_for_background_threads()
    saved = dict(app.config)
    ctx = app.app_context()
    ctx.push()
    limiter.reset()
    yield
    db.session.remove()
    ctx.pop()
    app.config.clear()
    app.config.update(saved)
    with app.app_context():
        _empty_database()
        app.extensions["rq_connection"].flushall()


def _empty_database() -> None:
    """Delete every row the test wrote: one query names the tables that have rows (a test
    writes to a handful of the ~60), then one DELETE each, children before parents. A DELETE
    per table per test cost ~30 ms of client CPU and ~60 round trips on PostgreSQL."""
    tables = list(reversed(db.metadata.sorted_tables))  # children first: foreign keys hold
    quote = db.engine.dialect.identifier_preparer.quote
    probe = " UNION ALL ".join(
        f"SELECT {i} AS n FROM (SELECT 1 FROM {quote(table.name)} LIMIT 1) AS t{i}"
        for i, table in enumerate(tables)
    )
    with db.engine.begin() as conn:
        for i in sorted(conn.scalars(text(probe))):
            conn.execute(tables[i].delete())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def htmx_headers():
    return {"HX-Request": "true"}


@pytest.fixture
def run_jobs(app):
    """Work everything queued (and due scheduled jobs), as the worker would; returns a count."""
    from crm.queue import run_pending

    def run() -> int:
        total = 0
        while count := run_pending(app):
            total += count
        return total

    return run


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, email: str, password: str = TEST_PASSWORD):
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def owner(app):
    """A team with its owner, logged in through `logged_in`."""
    return factories.make_user(
        name="Olive Owner", email="olive@example.com", team_name="Acme Sales"
    )


@pytest.fixture
def logged_in(client, auth, owner):
    auth.login(owner.email)
    return client


# --- Browser ---------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    need(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        need(False, "playwright is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server(app):
    """The app on a real port with CSRF on and the embedded worker running jobs."""
    from werkzeug.serving import make_server

    from crm.queue import EmbeddedRunner

    app.config["WTF_CSRF_ENABLED"] = True
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    runner = EmbeddedRunner(app, poll_seconds=0.1, tick_seconds=3600)
    runner.start()
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url
    yield url
    server.shutdown()
    runner.stop(timeout=60)


DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(params=["desktop", "phone"])
def page(request, browser, live_server):
    """A fresh browser page at desktop width and at a 390×844 phone (touch) viewport."""
    phone = request.param == "phone"
    context = browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        has_touch=phone,
        is_mobile=phone,
        base_url=live_server,
    )
    context.set_default_timeout(10_000)
    # Assertions wait as long as actions do: an htmx round trip on a loaded 2-core CI machine
    # can take longer than Playwright's 5 s default for expect().
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    page = context.new_page()
    page.is_phone = phone
    yield page
    context.close()


def log_in(page, email: str, *, then: str = "/") -> None:
    """Sign the page's browser in as `email` and open `then` (the dashboard, where the log-in
    form lands), without driving the form: the session is started by the same service the form
    calls (crm.auth.sessions.log_in, a UserSession row) for this browser's address and
    User-Agent, and its signed cookie handed to the browser. Saves two page loads a test; the
    form itself is driven by tests/browser/test_onboarding.py and test_hardening_browser.py."""
    from flask import current_app, g, session

    from crm.auth import sessions
    from crm.auth.services import user_by_email

    app = current_app._get_current_object()
    base_url = app.config["BASE_URL"]  # the live server's (live_server sets it)
    agent = page.evaluate("navigator.userAgent")
    environ = {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": agent}
    with app.test_request_context("/login", method="POST", base_url=base_url, environ_base=environ):
        user = user_by_email(email)
        assert user is not None, f"no account for {email}"
        sessions.log_in(user)  # what the form's view does on success (crm/auth/routes.py)
        session["team_id"] = user.last_team_id
        cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))
        g.pop("_login_user", None)  # the test's own app context must not stay signed in
    page.context.add_cookies(
        [
            {
                "name": app.config["SESSION_COOKIE_NAME"],
                "value": cookie,
                "url": base_url,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    # A set-up step, not the behaviour under test: the first page of a new context also starts
    # its renderer process, which took over 10 s on a 2-core machine at load 26.
    page.goto(then, timeout=30_000)
    assert "/login" not in page.url, "the injected session cookie did not sign the browser in"


def assert_no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page scrolls sideways: {width}px wide in a {viewport}px view"
