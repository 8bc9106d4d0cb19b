"""The accounts API: the caller's workspace and its API keys."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import openapi
from accounts.api.serializers import APIKeyCreateSerializer, APIKeySerializer, WhoAmISerializer
from accounts.models import APIKey, Scope
from accounts.services.api_keys import api_key_create, api_key_revoke
from paas.api.scoping import WorkspaceScopedAPIMixin, request_workspace
from paas.no_store import no_store


def caller_scopes(request: Request) -> list[str]:
    """The scopes of the key a request authenticated with: what it may give to, or take from, other keys."""
    api_key = request.auth
    assert isinstance(api_key, APIKey)
    return list(api_key.scopes)


class WhoAmIView(APIView):
    """The workspace and key a request authenticates as. Needs no scope, so any valid key can check itself."""

    @openapi.whoami
    def get(self, request: Request) -> Response:
        return Response(WhoAmISerializer({"workspace": request_workspace(request), "api_key": request.auth}).data)


@no_store  # the answer to POST carries the new key
@extend_schema_view(get=openapi.api_key_list)
class APIKeyListCreateView(WorkspaceScopedAPIMixin, generics.ListAPIView[APIKey]):
    queryset = APIKey.objects.select_related("created_by")
    serializer_class = APIKeySerializer
    required_scopes = {"*": Scope.KEYS_MANAGE}

    @openapi.api_key_create
    def post(self, request: Request) -> Response:
        form = APIKeyCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        issued = api_key_create(
            workspace=request_workspace(request),
            name=form.validated_data["name"],
            scopes=sorted(form.validated_data["scopes"]),
            expires_at=form.validated_data.get("expires_at"),
            created_by=None,
            issuer_scopes=caller_scopes(request),
        )
        body: dict[str, Any] = dict(APIKeySerializer(issued.api_key).data)
        body["key"] = issued.raw_key
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(get=openapi.api_key_retrieve)
class APIKeyDetailView(WorkspaceScopedAPIMixin, generics.RetrieveDestroyAPIView[APIKey]):
    queryset = APIKey.objects.select_related("created_by")
    serializer_class = APIKeySerializer
    required_scopes = {"*": Scope.KEYS_MANAGE}

    @openapi.api_key_revoke
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        api_key = api_key_revoke(api_key=self.get_object(), issuer_scopes=caller_scopes(request))
        return Response(APIKeySerializer(api_key).data)
