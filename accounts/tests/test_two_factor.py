"""Signing in with two-factor authentication: TOTP codes and recovery codes, through allauth.mfa."""

from __future__ import annotations

import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client

from accounts.models import User
from accounts.tests.factories import PASSWORD, MembershipFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

LOGIN = "/accounts/login/"
SECOND_FACTOR = "/accounts/2fa/authenticate/"


@pytest.fixture
def secret() -> str:
    return generate_totp_secret()


@pytest.fixture
def user(secret) -> User:
    user = MembershipFactory.create(user__email="careful@example.com").user
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return user


def current_code(secret: str) -> str:
    period = mfa_settings.TOTP_PERIOD
    # Don't hand out a code in the last second of its period: it could be stale by the time it is checked.
    if period - time.time() % period < 1:
        time.sleep(period - time.time() % period)
    return format_hotp_value(hotp_value(secret, int(time.time()) // period))


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def password_step(user: User) -> Client:
    client = Client()
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == SECOND_FACTOR
    return client


def test_the_password_alone_does_not_sign_in(user):
    client = password_step(user)

    assert signed_in_user_id(client) is None
    assert "authenticator code" in client.get(SECOND_FACTOR).content.decode()
    assert client.get("/").status_code == 302


def test_a_wrong_code_is_refused(user, secret):
    client = password_step(user)
    right = current_code(secret)
    wrong = f"{(int(right) + 1) % 10**6:06d}"

    response = client.post(SECOND_FACTOR, {"code": wrong})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert signed_in_user_id(client) is None


def test_the_right_code_signs_in(user, secret):
    client = password_step(user)

    response = client.post(SECOND_FACTOR, {"code": current_code(secret)})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(user.pk)
    assert client.get("/").status_code == 200


def test_a_recovery_code_signs_in_once(user):
    code = RecoveryCodes.activate(user).get_unused_codes()[0]

    first = password_step(user)
    assert first.post(SECOND_FACTOR, {"code": code}).status_code == 302
    assert signed_in_user_id(first) == str(user.pk)
    assert code not in RecoveryCodes.activate(user).get_unused_codes()

    second = password_step(user)
    response = second.post(SECOND_FACTOR, {"code": code})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert signed_in_user_id(second) is None
