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
    """Build the app in a fixed order: config → extensions → blueprints → hooks → CLI."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(config_module.load())
    app.config.update(overrides or {})
    # Rate limits are shared by every web process through Redis in the scaled mode.
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    os.makedirs(app.config["CRM_DATA_DIR"], exist_ok=True)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    if app.config.get("PROXY_FIX"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    _init_extensions(app)
    _register_blueprints(app)
    _register_hooks(app)

    from crm import cli, errors

    errors.register(app)
    cli.register(app)
    return app


def _init_extensions(app: Flask) -> None:
    from crm import models, queue  # noqa: F401  (models register their tables)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    ext.htmx.init_app(app)  # via the module: `crm.htmx` names our helpers submodule
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    queue.init_app(app)

    @login_manager.user_loader
    def load_user(user_key: str):
        from crm.models import User

        user_id, _, version = user_key.partition(":")
        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        if user is None or str(user.session_version) != version:
            return None  # password changed or reset: older sessions end here
        return user


def _register_blueprints(app: Flask) -> None:
    from crm.auth import bp as auth_bp
    from crm.companies import bp as companies_bp
    from crm.contacts import bp as contacts_bp
    from crm.core import bp as core_bp
    from crm.deals import bp as deals_bp
    from crm.deals import settings_bp as pipelines_bp
    from crm.dedupe import bp as dedupe_bp
    from crm.imports import bp as imports_bp
    from crm.inbound import bp as inbound_bp
    from crm.search import bp as search_bp
    from crm.settings import bp as settings_bp
    from crm.tasks import bp as tasks_bp
    from crm.timeline import bp as timeline_bp

    # crm.deals is imported before settings_bp is registered: it adds the settings.pipelines tab.
    # imports before contacts: /contacts/import must win over /contacts/<id>-style rules.
    for bp in (
        core_bp,
        auth_bp,
        settings_bp,
        inbound_bp,
        imports_bp,
        dedupe_bp,
        contacts_bp,
        companies_bp,
        timeline_bp,
        deals_bp,
        pipelines_bp,
        tasks_bp,
        search_bp,
    ):
        app.register_blueprint(bp)
    from crm.api import register as register_api  # issue 16: /api/v1, Settings → API tokens

    register_api(app)


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
        return {"team": g.get("team"), "membership": g.get("membership")}


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
