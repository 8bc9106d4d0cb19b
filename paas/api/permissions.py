"""Scope checks for API-key requests. A view names the scope each HTTP method needs in ``required_scopes``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

if TYPE_CHECKING:  # DRF's views import the permission and throttle settings: no run-time import back
    from rest_framework.request import Request
    from rest_framework.views import APIView


class HasScope(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False
        required = required_scope(view, request.method or "GET")
        if required is None:
            return True
        api_key: Any = request.auth
        if api_key is None or not api_key.has_scope(required):
            raise PermissionDenied(f"This API key lacks the '{required}' scope.", code="missing_scope")
        return True


def required_scope(view: APIView, method: str) -> str | None:
    scopes: dict[str, str] = getattr(view, "required_scopes", {})
    action = getattr(view, "action", None)
    if action and action in scopes:
        return scopes[action]
    return scopes.get(method.upper(), scopes.get("*"))
