"""Accounts and teams: sign-up, log-in, password reset, invitations, roles."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import cache

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from crm import outbox
from crm.auth import sessions
from crm.errors import Conflict, Forbidden, Invalid
from crm.extensions import db
from crm.models import Invitation, Membership, Role, Team, User, utcnow
from crm.models.team import hash_password, password_hash_method

RESET_MAX_AGE = 3600
SIGNUP_MAX_AGE = 24 * 3600
INVITE_DAYS = 7


@cache
def _dummy_hash(method: str) -> str:
    """A real hash, made the way passwords are, to compare against when the email is unknown,
    so timing does not reveal it."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def user_by_email(email: str) -> User | None:
    return db.session.scalars(select(User).where(User.email == email.strip().lower())).first()


def create_team(name: str, owner: User, country: str | None = None) -> Team:
    team = Team(name=name.strip(), default_country=country)
    db.session.add(team)
    db.session.add(Membership(team=team, user=owner, role=Role.OWNER))
    db.session.flush()
    owner.last_team_id = team.id
    from crm.kernel.features import set_up_new_team

    set_up_new_team(team)
    return team


def signup(
    *, name: str, email: str, password: str, team_name: str, country: str | None = None
) -> User:
    """Create an account and its team at once (no mail server to confirm the address with).
    `country`: the team's default country (phone numbers), guessed from the browser."""
    if user_by_email(email):
        raise Invalid("An account with this email exists already. Log in instead.", "email")
    return _create_account(name, email, hash_password(password), team_name, country)


def _create_account(
    name: str, email: str, password_hash: str, team_name: str, country: str | None = None
) -> User:
    user = User(name=name.strip(), email=email.strip().lower(), password_hash=password_hash)
    db.session.add(user)
    db.session.flush()
    create_team(team_name, user, country)
    db.session.commit()
    return user


def _signup_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="signup")


def request_signup(
    *, name: str, email: str, password: str, team_name: str, country: str | None = None
) -> None:
    """Sign-up when mail can be sent: the answer is the same whether or not the address has an
    account. A new address gets a link that creates the account; an address with an account
    gets a note saying so (with links to log in and to reset the password)."""
    email = email.strip().lower()
    base = current_app.config["BASE_URL"]
    existing = user_by_email(email)
    if existing is not None:
        row = outbox.queue_email(
            to=email,
            subject="You have a Rapport account already",
            template="signup_exists",
            kind="signup",
            user=existing,
            login=base + url_for("auth.login"),
            forgot=base + url_for("auth.forgot"),
        )
    else:
        # Signed, not stored: nothing is written until the address is confirmed. The link
        # carries the password's hash (never the password), and only to that address.
        data = {"n": name, "e": email, "p": hash_password(password), "t": team_name}
        data["c"] = country
        row = outbox.queue_email(
            to=email,
            subject="Finish signing up to Rapport",
            template="signup_confirm",
            kind="signup",
            name=name,
            link=base + url_for("auth.confirm_signup", token=_signup_serializer().dumps(data)),
            hours=SIGNUP_MAX_AGE // 3600,
        )
    db.session.commit()
    outbox.enqueue(row)


def confirm_signup(token: str) -> User:
    """Create the account a sign-up link describes (once: a second click finds it made)."""
    data = _signed_data(_signup_serializer(), token, SIGNUP_MAX_AGE, "sign-up", "Sign up again.")
    if user_by_email(data["e"]):
        raise Invalid("This account exists already. Log in to continue.")
    return _create_account(data["n"], data["e"], data["p"], data["t"], data.get("c"))


def authenticate(email: str, password: str) -> User | None:
    user = user_by_email(email)
    if user is None:
        from werkzeug.security import check_password_hash

        check_password_hash(_dummy_hash(password_hash_method()), password)
        return None
    return user if user.check_password(password) else None


def _signed_data(serializer, token: str, max_age: int, what: str, remedy: str) -> dict:
    """The data of a signed link, or Invalid with a message saying what to do instead."""
    try:
        return serializer.loads(token, max_age=max_age)
    except SignatureExpired:
        raise Invalid(f"This {what} link has expired. {remedy}") from None
    except BadSignature:
        raise Invalid(f"This {what} link is not valid. {remedy}") from None


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def request_password_reset(email: str) -> None:
    """Email a reset link if the account exists; say nothing either way (no account probing)."""
    user = user_by_email(email)
    if user is None:
        return
    token = _reset_serializer().dumps({"u": user.id, "v": user.session_version})
    link = current_app.config["BASE_URL"] + url_for("auth.reset", token=token)
    row = outbox.queue_email(
        to=user.email,
        subject="Reset your Rapport password",
        template="reset_password",
        kind="password_reset",
        user=user,
        link=link,
    )
    db.session.commit()
    outbox.enqueue(row)


def user_for_reset_token(token: str) -> User:
    data = _signed_data(_reset_serializer(), token, RESET_MAX_AGE, "reset", "Ask for a new one.")
    user = db.session.get(User, data.get("u"))
    # The version changes with every password change, so a link works once.
    if user is None or user.session_version != data.get("v"):
        raise Invalid("This reset link was used already. Ask for a new one.")
    return user


def reset_password(token: str, password: str) -> User:
    user = user_for_reset_token(token)
    user.set_password(password)
    sessions.end_all(user.id)
    db.session.commit()
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise Invalid("That is not your current password.", "current")
    user.set_password(new)
    sessions.end_all(user.id, keep=user.session_key)  # other devices are logged out
    db.session.commit()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(team: Team, inviter: User, email: str, role: Role) -> Invitation:
    """Invite someone by email; the link in the mail is the only copy of the token."""
    email = email.strip().lower()
    existing = db.session.scalars(
        select(Membership).join(User).where(Membership.team_id == team.id, User.email == email)
    ).first()
    if existing:
        raise Invalid(f"{email} is in this team already.", "email")
    if role == Role.OWNER:
        raise Invalid(
            "Invite as admin or member; ownership is given from the members list.", "role"
        )
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        team_id=team.id,
        email=email,
        role=role,
        token_hash=_hash(token),
        invited_by_id=inviter.id,
        expires_at=utcnow() + timedelta(days=INVITE_DAYS),
    )
    db.session.add(invitation)
    link = current_app.config["BASE_URL"] + url_for("auth.accept_invite", token=token)
    row = outbox.queue_email(
        to=email,
        subject=f"{inviter.name} invited you to {team.name} on Rapport",
        template="invitation",
        kind="invitation",
        team_id=team.id,
        team=team,
        inviter=inviter,
        link=link,
        days=INVITE_DAYS,
    )
    db.session.commit()
    outbox.enqueue(row)
    return invitation


def invitation_for_token(token: str) -> Invitation:
    invitation = db.session.scalars(
        select(Invitation).where(Invitation.token_hash == _hash(token))
    ).first()
    if invitation is None or invitation.revoked_at is not None:
        raise Invalid("This invitation link is not valid. Ask your teammate for a new one.")
    if invitation.accepted_at is not None:
        raise Invalid("This invitation was accepted already. Log in to continue.")
    if invitation.expires_at < utcnow():
        raise Invalid("This invitation has expired. Ask your teammate for a new one.")
    return invitation


def accept_invite(
    token: str, *, user: User | None = None, name: str | None = None, password: str | None = None
) -> User:
    """Join the invitation's team as `user`, or as a new account made from name + password."""
    invitation = invitation_for_token(token)
    if user is not None and user.email != invitation.email:
        # The link is a secret sent to one address; whoever else holds it gets nothing.
        raise Forbidden(
            f"This invitation was sent to {invitation.email}, and you are logged in as "
            f"{user.email}. Log out and open the link again, or ask for an invitation to "
            "your own address."
        )
    if user is None:
        if user_by_email(invitation.email):
            raise Invalid("You have an account already: log in to accept the invitation.")
        user = User(name=(name or "").strip(), email=invitation.email)
        user.set_password(password or "")
        db.session.add(user)
        db.session.flush()
    already = db.session.scalars(
        select(Membership).where(
            Membership.team_id == invitation.team_id, Membership.user_id == user.id
        )
    ).first()
    if already is None:
        db.session.add(
            Membership(team_id=invitation.team_id, user_id=user.id, role=invitation.role)
        )
    invitation.accepted_at = utcnow()
    user.last_team_id = invitation.team_id
    db.session.commit()
    return user


def revoke_invite(invitation: Invitation) -> None:
    invitation.revoked_at = utcnow()
    db.session.commit()


def _owner_count(team_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.team_id == team_id, Membership.role == Role.OWNER)
    )


def change_role(actor: Membership, target: Membership, role: Role) -> None:
    """Owners manage everyone; admins manage members and admins but never owners."""
    if not actor.role.can_manage:
        raise Forbidden("Only owners and admins can change roles.")
    if Role.OWNER in (role, target.role) and actor.role != Role.OWNER:
        raise Forbidden("Only an owner can give or take away ownership.")
    if target.role == Role.OWNER and role != Role.OWNER and _owner_count(target.team_id) == 1:
        raise Conflict("A team needs at least one owner. Make someone else owner first.")
    target.role = role
    db.session.commit()


def remove_member(actor: Membership, target: Membership) -> None:
    if not actor.role.can_manage:
        raise Forbidden("Only owners and admins can remove people.")
    if target.role == Role.OWNER and actor.role != Role.OWNER:
        raise Forbidden("Only an owner can remove an owner.")
    if target.role == Role.OWNER and _owner_count(target.team_id) == 1:
        raise Conflict("A team needs at least one owner. Make someone else owner first.")
    # Removal ends the person's sessions (in every team: they sign in again for the others),
    # so a browser left open on a shared machine loses the team with them.
    sessions.end_all(target.user_id)
    db.session.delete(target)
    db.session.commit()
