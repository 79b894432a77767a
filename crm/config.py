"""Configuration from the environment (12-factor). Every knob is listed in README."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once into the data dir."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url(data_dir: Path) -> str:
    url = os.environ.get("DATABASE_URL", f"sqlite:///{data_dir / 'rapport.db'}")
    # Hosting providers hand out postgres:// URLs; SQLAlchemy wants the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load() -> dict:
    data_dir = Path(os.environ.get("CRM_DATA_DIR", ROOT / "instance")).resolve()
    base_url = os.environ.get("BASE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '5000')}")
    return {
        "CRM_DATA_DIR": str(data_dir),
        "SECRET_KEY": _secret_key(data_dir),
        "SQLALCHEMY_DATABASE_URI": _database_url(data_dir),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "BASE_URL": base_url.rstrip("/"),
        "INBOUND_DOMAIN": os.environ.get("INBOUND_DOMAIN", "in.rapport.localhost"),
        "INBOUND_SECRET": os.environ.get("INBOUND_SECRET") or None,
        "INBOUND_MAX_BYTES": int(os.environ.get("INBOUND_MAX_BYTES", 25 * 1024 * 1024)),
        "INBOUND_BATCH_SIZE": int(os.environ.get("INBOUND_BATCH_SIZE", 25)),
        # Distinct recipients one SMTP envelope may name; more get "452 Too many recipients".
        "INBOUND_MAX_RECIPIENTS": int(os.environ.get("INBOUND_MAX_RECIPIENTS", 50)),
        # The authserv-ids of the receiving servers whose Authentication-Results we trust
        # (comma-separated, e.g. "mx.example.com"); any other such header is a sender's claim.
        "INBOUND_AUTHSERV_ID": os.environ.get("INBOUND_AUTHSERV_ID", ""),
        # Verify DKIM signatures ourselves when no trusted server did (needs DNS).
        "INBOUND_DKIM_CHECK": _bool("INBOUND_DKIM_CHECK", True),
        "SMTP_LISTEN": os.environ.get("SMTP_LISTEN", "127.0.0.1:2525"),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", 587)),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", True),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Rapport <rapport@localhost>"),
        "PORT": int(os.environ.get("PORT", 5000)),
        # `crm serve`'s web processes (gunicorn); 0 or unset: one per core.
        "WEB_WORKERS": int(os.environ.get("WEB_WORKERS") or 0),
        # Secure cookies need HTTPS; a laptop on http://127.0.0.1 would never log in.
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "REMEMBER_COOKIE_SECURE": base_url.startswith("https://"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PROXY_FIX": _bool("PROXY_FIX"),
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_HEADERS_ENABLED": True,
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "600/minute"),  # per API token
        "WTF_CSRF_TIME_LIMIT": None,  # token lives as long as the session
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "JOBS_SYNC": _bool("JOBS_SYNC"),
        # Webhooks may call loopback/private/link-local addresses (a receiver on this machine).
        "WEBHOOKS_ALLOW_PRIVATE": _bool("WEBHOOKS_ALLOW_PRIVATE"),
        # Not from the environment: only the test suite trades scrypt for a cheap hash.
        "PASSWORD_HASH_METHOD": "scrypt",
        # How long a completed task offers Undo before it leaves the task list.
        "TASK_UNDO_SECONDS": 6,
        # Search pages stop scoring and counting after a few ms (crm.search.engine.Budgets);
        # the test suite turns this off so results never depend on the machine's load.
        "SEARCH_TIME_BUDGETS": True,
        # Files attached to a composed mail (crm/outbound): each, and all of one mail together.
        # The request itself is capped by MAX_CONTENT_LENGTH below (a 413 past that).
        "OUTBOUND_MAX_ATTACHMENT_BYTES": int(
            os.environ.get("OUTBOUND_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
        ),
        "OUTBOUND_MAX_ATTACHMENTS_BYTES": int(
            os.environ.get("OUTBOUND_MAX_ATTACHMENTS_BYTES", 20 * 1024 * 1024)
        ),
        "MAX_CONTENT_LENGTH": int(os.environ.get("INBOUND_MAX_BYTES", 25 * 1024 * 1024)) + 65536,
    }
