"""Every new password is hashed with the configured method.

Production uses scrypt; the suite configures one PBKDF2 round (tests/conftest.py). A code path
that calls werkzeug with its default method would hash with scrypt even here: slow in the suite
(about a second a hash on a loaded 2-core machine) and ignoring the app's setting in production.
"""

from __future__ import annotations

from crm import config
from crm.auth import services
from crm.models.team import password_hash_method
from tests import factories


def test_production_hashes_with_scrypt():
    assert config.load()["PASSWORD_HASH_METHOD"] == "scrypt"


def test_sign_up_and_password_change_use_the_configured_method(app):
    method = app.config["PASSWORD_HASH_METHOD"]
    assert password_hash_method() == method
    user = services.signup(
        name="Hash Test", email="hash@example.com", password=factories.PASSWORD, team_name="H"
    )
    assert user.password_hash.startswith(method + "$")
    user.set_password("another long passphrase")
    assert user.password_hash.startswith(method + "$")
    assert user.check_password("another long passphrase")
