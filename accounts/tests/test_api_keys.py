"""Managing API keys through the API (scope keys:manage), and where a key's secret may and may not appear."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core import serializers
from django.db import connection
from django.utils import timezone

from accounts.models import APIKey, Scope
from accounts.services.api_keys import KEY_PREFIX, api_key_create
from accounts.tests.helpers import WHOAMI, assert_api_error, bearer, issued_key_in

pytestmark = pytest.mark.django_db

KEYS = "/api/v1/api-keys"


@pytest.fixture
def manager(workspace, api_client_for):
    """A key that may manage keys with any scope: it has them all (a key gives out only scopes it has)."""
    return api_client_for(workspace)


@pytest.fixture
def narrow(workspace, api_client_for):
    """A key that manages keys and reads sessions, nothing else."""
    return api_client_for(workspace, [Scope.KEYS_MANAGE, Scope.SESSIONS_READ])


def test_it_creates_a_key_and_shows_it_once(workspace, manager):
    response = manager.client.post(KEYS, {"name": "CRM", "scopes": [Scope.MESSAGES_SEND, Scope.SESSIONS_READ]})

    assert response.status_code == 201, response.content
    body = response.json()
    raw_key = body["key"]
    assert raw_key.startswith(KEY_PREFIX)
    assert len(raw_key) == len(KEY_PREFIX) + 50
    assert body["prefix"] == raw_key[: len(KEY_PREFIX) + 12]
    assert body["scopes"] == [Scope.MESSAGES_SEND, Scope.SESSIONS_READ]
    stored = APIKey.objects.get(pk=body["id"])
    assert stored.workspace == workspace
    assert stored.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()

    listing = manager.client.get(KEYS)
    detail = manager.client.get(f"{KEYS}/{body['id']}")
    assert listing.status_code == detail.status_code == 200
    assert body["id"] in [item["id"] for item in listing.json()["results"]]
    assert all("key" not in item for item in listing.json()["results"])
    assert "key" not in detail.json()
    assert detail.json()["prefix"] == body["prefix"]
    for response in (listing, detail):
        assert raw_key not in response.content.decode()
        assert stored.key_hash not in response.content.decode()


def test_a_created_key_works_with_the_scopes_it_was_given(workspace, manager):
    raw_key = manager.client.post(KEYS, {"name": "reader", "scopes": [Scope.SESSIONS_READ]}).json()["key"]

    whoami = bearer(raw_key).get(WHOAMI)
    assert whoami.status_code == 200
    assert whoami.json()["workspace"]["id"] == str(workspace.pk)
    assert whoami.json()["api_key"]["scopes"] == [Scope.SESSIONS_READ]
    assert_api_error(bearer(raw_key).get(KEYS), 403, "missing_scope")


def test_it_lists_keys_newest_first_with_cursor_pagination(workspace, manager, outsider):
    for n in range(5):
        api_key_create(workspace=workspace, name=f"key {n}", scopes=[], created_by=None)
    api_key_create(workspace=outsider.workspace, name="not ours", scopes=[], created_by=None)

    seen: list[str] = []
    pages = 0
    url: str | None = f"{KEYS}?page_size=2"
    while url:
        response = manager.client.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        assert len(page["results"]) <= 2
        seen += [item["id"] for item in page["results"]]
        url = page["next"]
        pages += 1

    ours = APIKey.objects.filter(workspace=workspace).order_by("-created_at")
    assert ours.count() == 6  # the five and the manager's own key
    assert seen == [str(pk) for pk in ours.values_list("pk", flat=True)]
    assert len(set(seen)) == len(seen)
    assert pages == 3


def test_it_refuses_an_expiry_in_the_past(manager):
    expired = (timezone.now() - timedelta(minutes=1)).isoformat()

    response = manager.client.post(KEYS, {"name": "late", "scopes": [Scope.SESSIONS_READ], "expires_at": expired})

    error = assert_api_error(response, 400, "validation_error")
    assert "expires_at" in error["details"]
    assert not APIKey.objects.filter(name="late").exists()


def test_it_accepts_an_expiry_in_the_future(manager):
    expires = timezone.now() + timedelta(days=30)

    response = manager.client.post(KEYS, {"name": "soon", "scopes": [Scope.SESSIONS_READ], "expires_at": expires})

    assert response.status_code == 201, response.content
    assert APIKey.objects.get(name="soon").expires_at == expires


def test_it_refuses_an_unknown_scope(manager):
    response = manager.client.post(KEYS, {"name": "greedy", "scopes": [Scope.SESSIONS_READ, "everything:all"]})

    error = assert_api_error(response, 400, "validation_error")
    assert "scopes" in error["details"]
    assert not APIKey.objects.filter(name="greedy").exists()


def test_it_refuses_a_key_without_scopes(manager):
    response = manager.client.post(KEYS, {"name": "empty", "scopes": []})

    error = assert_api_error(response, 400, "validation_error")
    assert "scopes" in error["details"]


def test_deleting_a_key_revokes_it_and_keeps_it_listed(workspace, manager):
    issued = api_key_create(workspace=workspace, name="old", scopes=[Scope.SESSIONS_READ], created_by=None)

    response = manager.client.delete(f"{KEYS}/{issued.api_key.pk}")

    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    issued.api_key.refresh_from_db()
    assert issued.api_key.revoked_at is not None
    listed = {item["id"]: item for item in manager.client.get(KEYS).json()["results"]}
    assert listed[str(issued.api_key.pk)]["revoked_at"] is not None
    assert_api_error(bearer(issued.raw_key).get(WHOAMI), 401, "api_key_revoked")


def test_a_key_cannot_create_a_key_with_a_scope_it_lacks(workspace, narrow):
    before = APIKey.objects.count()

    response = narrow.client.post(KEYS, {"name": "everything", "scopes": list(Scope.values)})

    error = assert_api_error(response, 403, "scope_exceeds_key")
    assert error["details"]["scopes"] == sorted(set(Scope.values) - {Scope.KEYS_MANAGE, Scope.SESSIONS_READ})
    assert APIKey.objects.count() == before  # nothing stored


def test_keys_manage_alone_cannot_mint_a_key_that_reads_messages(workspace, api_client_for):
    keys_only = api_client_for(workspace, [Scope.KEYS_MANAGE])

    response = keys_only.client.post(KEYS, {"name": "reader", "scopes": [Scope.MESSAGES_READ]})

    assert_api_error(response, 403, "scope_exceeds_key")
    assert not APIKey.objects.filter(name="reader").exists()


def test_a_key_may_create_a_key_within_its_own_scopes(workspace, narrow):
    response = narrow.client.post(KEYS, {"name": "reader", "scopes": [Scope.SESSIONS_READ]})

    assert response.status_code == 201, response.content
    assert response.json()["scopes"] == [Scope.SESSIONS_READ]


def test_a_key_cannot_revoke_a_key_with_a_scope_it_lacks(workspace, narrow):
    stronger = api_key_create(workspace=workspace, name="sender", scopes=[Scope.MESSAGES_SEND], created_by=None)
    weaker = api_key_create(workspace=workspace, name="reader", scopes=[Scope.SESSIONS_READ], created_by=None)

    assert_api_error(narrow.client.delete(f"{KEYS}/{stronger.api_key.pk}"), 403, "scope_exceeds_key")
    assert narrow.client.delete(f"{KEYS}/{weaker.api_key.pk}").status_code == 200

    stronger.api_key.refresh_from_db()
    weaker.api_key.refresh_from_db()
    assert stronger.api_key.revoked_at is None
    assert weaker.api_key.revoked_at is not None


def test_the_database_never_holds_a_full_key(workspace, as_role, manager):
    api_raw = manager.client.post(KEYS, {"name": "via API", "scopes": [Scope.SESSIONS_READ]}).json()["key"]
    portal = as_role("admin")
    page = portal.post("/workspace/api-keys/", {"name": "via portal", "scopes": [Scope.SESSIONS_READ]})
    assert page.status_code == 201
    portal_raw = issued_key_in(page.content.decode())
    # Use both, so whatever a request writes (last_used_at, sessions) is written too.
    assert bearer(api_raw).get(WHOAMI).status_code == 200
    assert bearer(portal_raw).get(WHOAMI).status_code == 200
    assert portal.get("/workspace/api-keys/").status_code == 200

    tables = set(connection.introspection.table_names())
    models = [model for model in apps.get_models(include_auto_created=True) if model._meta.db_table in tables]
    assert APIKey in models
    everything = [serializers.serialize("json", model._base_manager.all()) for model in models]
    everything += [str(session.get_decoded()) for session in Session.objects.all()]
    haystack = "\n".join(everything)

    for raw_key in (api_raw, portal_raw):
        secret = raw_key[len(KEY_PREFIX) + 12 : len(KEY_PREFIX) + 44]
        assert len(secret) == 32
        assert hashlib.sha256(raw_key.encode()).hexdigest() in haystack  # the rows were read: the hash is there
        assert raw_key not in haystack
        assert secret not in haystack
