"""Teams, users, memberships and invitations."""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import Boolean, Date, Enum, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from crm.extensions import db
from crm.models.base import TeamOwned, Timestamps, UTCDateTime, new_token, utcnow


def password_hash_method() -> str:
    """werkzeug's hash method for new passwords: scrypt unless the app configures another
    (PASSWORD_HASH_METHOD: the test suite uses a cheap one, since scrypt costs tens of ms per
    hash and fixtures make thousands)."""
    if has_app_context():
        return current_app.config.get("PASSWORD_HASH_METHOD") or "scrypt"
    return "scrypt"


def hash_password(password: str) -> str:
    """The stored hash of a new password, made with password_hash_method(). Every place that
    hashes a password calls this (sign-up, its confirmation link, set_password)."""
    return generate_password_hash(password, method=password_hash_method())


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"

    @property
    def can_manage(self) -> bool:
        return self in (Role.OWNER, Role.ADMIN)


class Team(Timestamps, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # ISO 3166 region a phone number without a country code is read in (imports, forms);
    # None: the app's PHONE_REGION.
    default_country: Mapped[str | None] = mapped_column(String(2))
    # Email-in creates contacts for unknown external people when this is on.
    auto_create_contacts: Mapped[bool] = mapped_column(Boolean, default=True)
    # …and only from mail whose sender passed DKIM or DMARC when this is on (held otherwise).
    require_sender_auth: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    # Email out: a shared sender ("Sales <sales@example.com>") members may send as.
    outbound_sender: Mapped[str | None] = mapped_column(String(300))
    memberships: Mapped[list[Membership]] = relationship(back_populates="team")


class User(UserMixin, Timestamps, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(256))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Bumped on password change and reset: old sessions and reset links stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    last_team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    # Before migration 0004h2 the email-in token was the user's. Kept (never read) because
    # dropping it rebuilds this table on SQLite; addresses are Membership.inbound_token.
    legacy_inbound_token: Mapped[str] = mapped_column(
        "inbound_token", String(32), unique=True, default=new_token
    )

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    # Tasks (issue 5): the daily digest (opt-out, last local day sent) and the calendar feed.
    digest_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    digest_sent_on: Mapped[date | None] = mapped_column(Date)
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    @property
    def inbound_token(self) -> str | None:
        """The token of this user's email-in address in their last-opened team (for display).

        Mail is never routed by this: each membership has its own address
        (Membership.inbound_token).
        """
        memberships = {m.team_id: m for m in self.memberships}
        if not memberships:
            return None
        return (memberships.get(self.last_team_id) or memberships[min(memberships)]).inbound_token

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)
        self.session_version = (self.session_version or 0) + 1

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    # The key of the signed-in session this object was loaded for (crm.auth.sessions sets it).
    session_key = None  # str once loaded; not a column

    def get_id(self) -> str:
        # Flask-Login keeps this in the session cookie and the remember-me cookie: the user and
        # the server-side session (a UserSession row) it belongs to. Deleting the row ends both.
        return f"{self.id}:{self.session_key or ''}"


class UserSession(db.Model):
    """A signed-in browser. Log-out, a password change or reset and removal from a team delete
    rows; a cookie whose row is gone no longer signs anyone in, however it was copied."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # Only the hash is stored: a database leak does not leak usable sessions.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class Membership(TeamOwned, Timestamps, db.Model):
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=Role.MEMBER,
    )
    # The email-in address <inbound_token>@INBOUND_DOMAIN belongs to the membership, not to the
    # user: mail to it is filed in this team only, and it is refused once the membership ends.
    inbound_token: Mapped[str] = mapped_column(String(32), unique=True, default=new_token)
    # Away members are skipped by lead round robin (they keep the leads they have).
    away: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    team: Mapped[Team] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class Invitation(TeamOwned, Timestamps, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=Role.MEMBER,
    )
    # Only the hash is stored: a database leak does not leak usable invitation links.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    team: Mapped[Team] = relationship()
    invited_by: Mapped[User | None] = relationship()
