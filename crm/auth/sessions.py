"""Server-side sessions: each signed-in browser is a UserSession row.

The session cookie and the remember-me cookie both carry "<user id>:<session key>" (see
User.get_id); only the key's hash is stored. A request is signed in only while its row exists,
so log-out, a password change or reset and removal from a team end a session for good — a
copied cookie stops working the moment its row is deleted.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask_login import login_user
from sqlalchemy import delete, select

from crm.extensions import db
from crm.models import User, UserSession, utcnow

# A session unused for longer than the remember-me cookie lives (365 days) is dead weight.
IDLE_LIMIT = timedelta(days=400)
# Writing last_seen_at on every request would make every page a write; once an hour is enough.
TOUCH_EVERY = timedelta(hours=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def log_in(user: User, *, remember: bool = False) -> None:
    """Start a new server-side session for `user` and sign this browser in with it."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id, UserSession.last_seen_at < now - IDLE_LIMIT
        )
    )
    db.session.add(UserSession(user_id=user.id, key_hash=_hash(key), created_at=now))
    db.session.commit()
    user.session_key = key
    login_user(user, remember=remember)


def load(user_key: str) -> User | None:
    """The user of a cookie's "<id>:<key>", if that session is still open (Flask-Login's loader)."""
    user_id, _, key = (user_key or "").partition(":")
    if not key or not user_id.isascii() or not user_id.isdigit():
        return None
    row = db.session.scalars(select(UserSession).where(UserSession.key_hash == _hash(key))).first()
    if row is None or str(row.user_id) != user_id:
        return None
    if row.last_seen_at < utcnow() - TOUCH_EVERY:
        row.last_seen_at = utcnow()
        db.session.commit()
    user = row.user
    user.session_key = key
    return user


def end(user: User) -> None:
    """End the session `user` was loaded with (log-out)."""
    if user.session_key:
        db.session.execute(
            delete(UserSession).where(UserSession.key_hash == _hash(user.session_key))
        )
        db.session.commit()


def end_all(user_id: int, *, keep: str | None = None) -> None:
    """End every session of a user — but `keep`, the one making the change (caller commits)."""
    stmt = delete(UserSession).where(UserSession.user_id == user_id)
    if keep:
        stmt = stmt.where(UserSession.key_hash != _hash(keep))
    db.session.execute(stmt)
