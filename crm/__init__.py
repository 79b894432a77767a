"""Rapport: a self-hostable CRM for small teams."""

from __future__ import annotations

import logging
import os

from flask import Flask, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from crm import config as config_module
from crm import extensions as ext
from crm.extensions import csrf, db, limiter, login_manager, migrate

ROOT = config_module.ROOT
# Pages a logged-in user without any team may still reach.
NO_TEAM_OK = {"auth.logout", "auth.no_team", "core.new_team", "core.switch_team"}

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app in a fixed order: config → extensions → features → hooks → CLI."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(config_module.load())
    app.config.update(overrides or {})
    # Rate limits are shared by every web process through Redis in the scaled mode.
    from crm import ratelimit  # noqa: F401  (registers rapport-memory://, see its docstring)

    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "rapport-memory://"
    )
    from crm.kernel import files

    files.make_private(app)  # before anything is written: database, attachments, index
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    if app.config.get("PROXY_FIX"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    _init_extensions(app)
    from crm.kernel import ids

    ids.register(app)  # before the features' blueprints: their rules use <id:...>
    _install_features(app)
    _register_hooks(app)
    from crm.kernel import request_text

    app.before_request(request_text.refuse_nul)  # bad input is a 400 before any query sees it
    from crm import cli, errors

    errors.register(app)
    cli.register(app)
    return app


def _init_extensions(app: Flask) -> None:
    from crm import models, queue  # noqa: F401  (models register their tables)
    from crm.kernel import dates

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    ext.htmx.init_app(app)  # via the module: `crm.htmx` names our helpers submodule
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    queue.init_app(app)
    dates.init_app(app)  # the local_dt / local_day template filters

    @login_manager.user_loader
    def load_user(user_key: str):
        from crm.auth import sessions

        return sessions.load(user_key)  # None once log-out or a password change ended it


def _install_features(app: Flask) -> None:
    """Every feature of crm/features.py, in its order: blueprints now; sweeps, jobs, commands,
    new-team defaults and start-up work are read from the same list when they run."""
    from crm.features import FEATURES
    from crm.kernel import features

    features.install(app, FEATURES)


def _register_hooks(app: Flask) -> None:
    from crm.security import load_team

    @app.before_request
    def require_login():
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        if view is None or request.endpoint == "static" or getattr(view, "is_public", False):
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        load_team()
        if g.team is None and request.endpoint not in NO_TEAM_OK:
            return redirect(url_for("auth.no_team"))
        return None

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.context_processor
    def shell_context():
        from crm.kernel import features

        membership = g.get("membership")
        manager = bool(membership and membership.role.can_manage)
        return {
            "team": g.get("team"),
            "membership": membership,
            "settings_tabs": features.settings_tabs(manager=manager),
        }


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL for concurrent readers, foreign keys on, and waiting instead of 'database locked'."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
