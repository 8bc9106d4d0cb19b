"""The one place that narrows querysets to the caller's workspace.

Every tenant-owned model has a ``workspace`` foreign key. API views get the workspace from the API key, portal views
from the signed-in member's current workspace; both go through ``scope_to_workspace`` so an object of another
workspace is simply not found (404), never forbidden (403), and its existence does not leak.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from rest_framework.request import Request

M = TypeVar("M", bound=Model)


def scope_to_workspace(queryset: QuerySet[M], workspace: Any) -> QuerySet[M]:
    if workspace is None:
        return queryset.none()
    return queryset.filter(workspace=workspace)


def request_workspace(request: Request) -> Any:
    return getattr(request.user, "workspace", None)


class WorkspaceScopedAPIMixin:
    """For DRF views: ``get_queryset`` returns only the calling workspace's rows."""

    def get_queryset(self) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset()  # type: ignore[misc]
        return scope_to_workspace(queryset, request_workspace(self.request))  # type: ignore[attr-defined]
