"""API keys: issuing, resolving and revoking. The key format and hashing are those of every
token (``worker_node/contract/tokens.py``, ``sb_live_…``)."""

from __future__ import annotations

import hmac
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from accounts.live import CLOSE_UNAUTHENTICATED, api_key_group, close_live_sockets_after_commit
from accounts.models import APIKey, Scope, User, Workspace
from paas.api.errors import APIError
from worker_node.contract.tokens import API_KEY, hash_token

KEY_PREFIX = API_KEY.prefix
# last_used_at is written at most this often per key, so authentication stays one query on the hot path.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw_key: str) -> str:
    return hash_token(raw_key)


def is_well_formed(raw_key: str) -> bool:
    return API_KEY.is_well_formed(raw_key)


def public_prefix(raw_key: str) -> str:
    return API_KEY.public_prefix(raw_key)


@dataclass(frozen=True)
class IssuedKey:
    api_key: APIKey
    raw_key: str  # shown to the customer exactly once; never stored


def api_key_create(
    *,
    workspace: Workspace,
    name: str,
    scopes: list[str],
    created_by: User | None,
    expires_at: datetime | None = None,
    issuer_scopes: Collection[str] | None = None,
) -> IssuedKey:
    """``issuer_scopes``: the scopes of the key that asks (through the API); a new key carries none beyond them."""
    unknown = set(scopes) - set(Scope.values)
    if unknown:
        raise ValueError(f"Unknown scopes: {', '.join(sorted(unknown))}")
    if issuer_scopes is not None:
        check_within_scopes(scopes, issuer_scopes)
    token = API_KEY.issue()
    api_key = APIKey.objects.create(
        workspace=workspace,
        name=name,
        prefix=token.prefix,
        key_hash=token.hash,
        scopes=sorted(set(scopes)),
        created_by=created_by,
        expires_at=expires_at,
    )
    return IssuedKey(api_key=api_key, raw_key=token.raw)


def check_within_scopes(scopes: Collection[str], issuer_scopes: Collection[str]) -> None:
    """A key creates or changes only keys within its own scopes: `keys:manage` alone must not mint a key that reads
    messages."""
    beyond = sorted(set(scopes) - set(issuer_scopes))
    if beyond:
        raise APIError(
            "scope_exceeds_key",
            f"This API key cannot create or change a key with scopes it does not have itself: {', '.join(beyond)}.",
            status_code=403,
            details={"scopes": beyond},
        )


@transaction.atomic
def api_key_revoke(*, api_key: APIKey, issuer_scopes: Collection[str] | None = None) -> APIKey:
    """Revoke the key; its live streams close once this commits. ``issuer_scopes`` as in api_key_create."""
    if issuer_scopes is not None:
        check_within_scopes(api_key.scopes, issuer_scopes)
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    close_live_sockets_after_commit([api_key_group(api_key.pk)], code=CLOSE_UNAUTHENTICATED, reason="api_key_revoked")
    return api_key


@dataclass(frozen=True)
class APIClient:
    """The principal of a request authenticated by an API key (``request.user`` in API views)."""

    api_key: APIKey
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def workspace(self) -> Workspace:
        return self.api_key.workspace

    @property
    def pk(self) -> Any:
        return self.api_key.pk

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}"


def api_key_resolve(raw_key: str) -> tuple[APIClient, APIKey]:
    """The API_KEY_RESOLVER: the key's principal and the key itself, or AuthenticationFailed with a precise code."""
    if not is_well_formed(raw_key):
        raise AuthenticationFailed("That is not a Switchboard API key (sb_live_…).", code="malformed_api_key")
    # created_by too: whoami shows it, and a second query per request would break the hot path's budget.
    api_key = APIKey.objects.select_related("workspace", "created_by").filter(prefix=public_prefix(raw_key)).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, hash_key(raw_key)):
        raise AuthenticationFailed("This API key does not exist.", code="unknown_api_key")
    now = timezone.now()
    if api_key.revoked_at is not None:
        raise AuthenticationFailed("This API key has been revoked.", code="api_key_revoked")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise AuthenticationFailed("This API key has expired.", code="api_key_expired")
    _touch(api_key, now)
    return APIClient(api_key), api_key


def _touch(api_key: APIKey, now: datetime) -> None:
    if api_key.last_used_at and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    # cache.add is atomic: of several concurrent requests only one writes.
    if cache.add(f"apikey-touch:{api_key.pk}", 1, timeout=int(LAST_USED_RESOLUTION.total_seconds())):
        APIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
