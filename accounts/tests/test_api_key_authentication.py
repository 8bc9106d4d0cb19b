"""Authenticating API requests with ``Authorization: Bearer <key>``: every way a key is refused, and the hot path."""

from __future__ import annotations

import hmac
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import APIKey, Scope
from accounts.services.api_keys import api_key_create, api_key_revoke, hash_key
from accounts.tests.helpers import WHOAMI, assert_api_error, bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(workspace):
    return api_key_create(workspace=workspace, name="CRM", scopes=[Scope.SESSIONS_READ], created_by=None)


def test_it_accepts_a_valid_key_and_names_its_workspace(issued, workspace):
    response = bearer(issued.raw_key).get(WHOAMI)

    assert response.status_code == 200
    assert response.json()["workspace"]["id"] == str(workspace.pk)
    assert response.json()["api_key"]["id"] == str(issued.api_key.pk)


def test_it_refuses_a_request_without_a_key():
    error = assert_api_error(APIClient().get(WHOAMI), 401, "not_authenticated")

    assert error["details"] == {}


def _bad_checksum(raw: str) -> str:
    last = "A" if raw[-1] != "A" else "B"
    return raw[:-1] + last


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(lambda raw: f"Bearer {_bad_checksum(raw)}", id="bad-checksum"),
        pytest.param(lambda raw: f"Bearer sb_test_{raw.removeprefix('sb_live_')}", id="wrong-prefix"),
        pytest.param(lambda raw: f"Bearer {raw[:-1]}", id="truncated"),
        pytest.param(lambda raw: f"Bearer {raw} extra", id="extra-parts"),
        pytest.param(lambda raw: f"Token {raw}", id="wrong-scheme"),
    ],
)
def test_it_refuses_a_malformed_key_without_asking_the_database(issued, header, django_assert_num_queries):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header(issued.raw_key))

    with django_assert_num_queries(0):
        response = client.get(WHOAMI)

    assert_api_error(response, 401, "malformed_api_key")


def test_it_refuses_a_well_formed_key_it_does_not_know(issued):
    issued.api_key.delete()  # the key keeps its valid checksum; only the row is gone

    assert_api_error(bearer(issued.raw_key).get(WHOAMI), 401, "unknown_api_key")


def test_it_refuses_a_key_whose_public_id_matches_but_whose_secret_does_not(issued):
    other = api_key_create(workspace=issued.api_key.workspace, name="other", scopes=[], created_by=None)
    # The row found by the public id now holds another key's hash: only the hash comparison can refuse.
    APIKey.objects.filter(pk=issued.api_key.pk).update(key_hash=hash_key(other.raw_key))

    assert_api_error(bearer(issued.raw_key).get(WHOAMI), 401, "unknown_api_key")


def test_it_refuses_an_expired_key(workspace):
    issued = api_key_create(
        workspace=workspace,
        name="temporary",
        scopes=[],
        created_by=None,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    client = bearer(issued.raw_key)
    assert client.get(WHOAMI).status_code == 200

    APIKey.objects.filter(pk=issued.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_api_error(client.get(WHOAMI), 401, "api_key_expired")


def test_it_refuses_a_revoked_key(issued):
    api_key_revoke(api_key=issued.api_key)

    assert_api_error(bearer(issued.raw_key).get(WHOAMI), 401, "api_key_revoked")


def test_revoking_a_key_takes_effect_on_the_very_next_request(workspace, api_client_for):
    keyed = api_client_for(workspace, [Scope.KEYS_MANAGE])
    own_id = APIKey.objects.get(workspace=workspace).pk
    assert keyed.client.get(WHOAMI).status_code == 200

    assert keyed.client.delete(f"/api/v1/api-keys/{own_id}").status_code == 200

    assert_api_error(keyed.client.get(WHOAMI), 401, "api_key_revoked")
    assert_api_error(keyed.client.get("/api/v1/api-keys"), 401, "api_key_revoked")


def test_it_compares_the_stored_hash_in_constant_time(issued):
    real_compare = hmac.compare_digest
    with mock.patch("accounts.services.api_keys.hmac.compare_digest", side_effect=real_compare) as compare:
        response = bearer(issued.raw_key).get(WHOAMI)

    assert response.status_code == 200
    compare.assert_any_call(issued.api_key.key_hash, hash_key(issued.raw_key))


def test_the_constant_time_comparison_decides_whether_the_key_is_accepted(issued):
    stored = issued.api_key.key_hash
    real_compare = hmac.compare_digest

    def refuse_the_stored_hash(a, b):
        return False if stored in (a, b) else real_compare(a, b)

    with mock.patch("accounts.services.api_keys.hmac.compare_digest", side_effect=refuse_the_stored_hash):
        response = bearer(issued.raw_key).get(WHOAMI)

    assert_api_error(response, 401, "unknown_api_key")


def test_authenticating_a_request_takes_at_most_two_queries(owner, django_assert_max_num_queries):
    # Created by a person, as in the portal: whoami shows who, which must not cost a query of its own.
    issued = api_key_create(workspace=owner.workspace, name="CRM", scopes=[], created_by=owner.user)
    client = bearer(issued.raw_key)

    with django_assert_max_num_queries(2):
        first = client.get(WHOAMI)
    # last_used_at was just written: the next request is a single query.
    with django_assert_max_num_queries(1):
        second = client.get(WHOAMI)

    assert first.status_code == second.status_code == 200
    assert second.json()["api_key"]["created_by"] == owner.user.email


def test_it_records_when_a_key_was_last_used_but_at_most_once_a_minute(issued):
    assert issued.api_key.last_used_at is None
    client = bearer(issued.raw_key)

    before = timezone.now()
    assert client.get(WHOAMI).status_code == 200
    issued.api_key.refresh_from_db()
    first_use = issued.api_key.last_used_at
    assert first_use is not None
    assert before <= first_use <= timezone.now()

    assert client.get(WHOAMI).status_code == 200
    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at == first_use

    # A minute on, both the timestamp and the cache's one-writer marker have aged out: the next request writes.
    APIKey.objects.filter(pk=issued.api_key.pk).update(last_used_at=first_use - timedelta(minutes=2))
    cache.delete(f"apikey-touch:{issued.api_key.pk}")
    assert client.get(WHOAMI).status_code == 200
    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at > first_use
