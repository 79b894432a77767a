"""API tokens: create (the secret is shown once), revoke, and authenticate a bearer secret.

A token is `rap_` + 32 random bytes (URL-safe base64). Only its SHA-256 is stored: a
high-entropy secret needs no slow hash, and a lookup by hash is one index probe per request.
A token works only while it is not revoked, not expired, and its owner is still a member of
the token's team; the member's current role is what the API checks.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import joinedload

from crm.errors import Forbidden, Invalid
from crm.extensions import db
from crm.kernel import members
from crm.models import ApiIdempotencyKey, ApiToken, Membership, TokenScope, utcnow

PREFIX = "rap_"
# last_used_at is written at most this often per token, so reads stay reads.
TOUCH_EVERY = timedelta(minutes=1)
IDEMPOTENCY_DAYS = 1


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    team_id: int,
    user_id: int,
    *,
    name: str,
    scope: str,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for a member; returns it with its secret (never stored, shown once)."""
    name = " ".join((name or "").split())
    if not name:
        raise Invalid("Name the token after what will use it.", field="name")
    if len(name) > 100:
        raise Invalid("Keep the name under 100 characters.", field="name")
    try:
        scope = TokenScope(scope)
    except ValueError:
        raise Invalid("Choose read only or read and write.", field="scope") from None
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid("Choose an expiry date in the future.", field="expires_on")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        team_id=team_id,
        user_id=user_id,
        name=name,
        scope=scope,
        token_hash=hash_secret(secret),
        prefix=secret[: len(PREFIX) + 6],
        expires_at=expires_at,
    )
    db.session.add(token)
    db.session.commit()
    return token, secret


def revoke_token(token: ApiToken, actor: Membership) -> ApiToken:
    """Revoke your own token; admins and owners may revoke any token of their team."""
    if token.team_id != actor.team_id:
        raise Forbidden("That token is not in your team.")
    if token.user_id != actor.user_id and not members.can_manage(actor):
        raise Forbidden("Only admins can revoke other people's tokens.")
    if token.revoked_at is None:
        token.revoked_at, token.revoked_by_id = utcnow(), actor.user_id
    db.session.commit()
    return token


def authenticate(secret: str) -> tuple[ApiToken, Membership] | None:
    """The live token for a bearer secret and its owner's membership, else None."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    row = db.session.execute(
        select(ApiToken, Membership)
        .join(
            Membership,
            (Membership.team_id == ApiToken.team_id) & (Membership.user_id == ApiToken.user_id),
        )
        .where(ApiToken.token_hash == hash_secret(secret))
        .options(joinedload(Membership.team))
    ).first()
    if row is None:
        return None
    token, membership = row
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        token.last_used_at = now
        db.session.commit()
    return token, membership


def tokens_of(team_id: int, user_id: int | None = None) -> list[ApiToken]:
    """Tokens of a team (or of one member of it), live ones first, newest first."""
    stmt = select(ApiToken).where(ApiToken.team_id == team_id)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    rows = db.session.scalars(stmt.order_by(ApiToken.id.desc())).all()
    return sorted(rows, key=lambda t: not t.active)


def purge_idempotency_keys() -> int:
    """Forget stored create responses after a day (clients retry within minutes)."""
    cutoff = utcnow() - timedelta(days=IDEMPOTENCY_DAYS)
    result = db.session.execute(
        delete(ApiIdempotencyKey)
        .where(ApiIdempotencyKey.created_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0
