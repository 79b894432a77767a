"""Forms for sign-up, log-in, password reset and invitations."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

COMMON_PASSWORDS = frozenset(
    [
        "password",
        "password1",
        "password123",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "1q2w3e4r5t",
        "iloveyou12",
        "letmein123",
        "welcome123",
        "passw0rd123",
        "administrator",
        "changeme123",
        "abcdefghij",
        "0987654321",
        "1111111111",
        "qwerty1234",
        "sunshine12",
        "football12",
        "baseball12",
    ]
)
MIN_PASSWORD = 10


def strong_password(form, field) -> None:
    """At least 10 characters, not a well-known password, not the email address."""
    value = field.data or ""
    if len(value) < MIN_PASSWORD:
        raise ValidationError(f"Use at least {MIN_PASSWORD} characters.")
    if value.lower() in COMMON_PASSWORDS or len(set(value)) < 4:
        raise ValidationError("That password is too easy to guess. Try a short sentence.")
    email = getattr(form, "email", None)
    if email is not None and email.data and value.lower() == email.data.strip().lower():
        raise ValidationError("Your password cannot be your email address.")


def _email_field(label: str = "Email"):
    return EmailField(
        label,
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
        filters=[lambda v: v.strip().lower() if v else v],
        render_kw={"autocomplete": "email", "inputmode": "email"},
    )


class SignupForm(FlaskForm):
    name = StringField(
        "Your name",
        validators=[DataRequired(), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    team_name = StringField(
        "Team or company name",
        validators=[DataRequired(), Length(max=120)],
        render_kw={"autocomplete": "organization"},
    )
    email = _email_field()
    password = PasswordField(
        "Password",
        validators=[DataRequired(), strong_password],
        render_kw={"autocomplete": "new-password"},
    )


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField(
        "Password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    remember = BooleanField("Keep me logged in on this device")


class ForgotForm(FlaskForm):
    email = _email_field()


class ResetForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired(), strong_password],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("password", "The passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class AcceptInviteForm(FlaskForm):
    """Create an account while accepting an invitation (the email is the invited one)."""

    name = StringField(
        "Your name",
        validators=[DataRequired(), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    password = PasswordField(
        "Choose a password",
        validators=[DataRequired(), strong_password],
        render_kw={"autocomplete": "new-password"},
    )
