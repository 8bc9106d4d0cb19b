"""What /api/schema/ says about the accounts API: summaries, descriptions for customers, every answer."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

from accounts.api.serializers import APIKeyCreateSerializer, APIKeySerializer, IssuedAPIKeySerializer, WhoAmISerializer
from paas.schema import error

_BEYOND = error(
    "The API key may not do this.",
    scope_exceeds_key="the key it acts on has scopes the calling key lacks (`details.scopes` lists them)",
)

whoami = extend_schema(
    operation_id="whoami",
    summary="Show the caller's workspace and key",
    description="The workspace and the API key this request authenticates as. Needs no scope, so any valid key can "
    "check itself (its scopes, expiry, last use).",
    responses=WhoAmISerializer,
)
api_key_list = extend_schema(
    summary="List API keys",
    description="The workspace's API keys, newest first, revoked ones included. The secret is never shown again "
    "after creation; `prefix` identifies a key.",
)
api_key_create = extend_schema(
    summary="Create an API key",
    description="A new key with the given scopes (and optional expiry). The answer's `key` is the only time the full "
    "key is shown: store it now. A key can only create keys within its own scopes.",
    request=APIKeyCreateSerializer,
    responses={201: IssuedAPIKeySerializer, 403: _BEYOND},
)
api_key_retrieve = extend_schema(
    summary="Get an API key", description="One API key of the workspace, without its secret."
)
api_key_revoke = extend_schema(
    summary="Revoke an API key",
    description="Revokes the key: it is refused from the next request on, and its live streams close. The answer is "
    "the key with `revoked_at` set; it stays listed. Revoking a revoked key changes nothing. A key can only revoke "
    "keys within its own scopes.",
    responses={200: APIKeySerializer, 403: _BEYOND},
)
