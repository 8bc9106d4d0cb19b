"""Portal view helpers: who may see a page, and the one scoping rule for the objects it shows."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.models import Membership, Role, Workspace
from paas.api.errors import APIError
from paas.api.scoping import scope_to_workspace


class WorkspaceMemberMixin(LoginRequiredMixin):
    """Requires a signed-in member of the current workspace: ``view_role`` to read, ``edit_role`` to post."""

    view_role: str = Role.MEMBER
    edit_role: str = Role.MEMBER
    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if getattr(request, "membership", None) is None:
            messages.info(request, "You are not a member of any workspace yet. Create one to continue.")
            return redirect("workspace_create")
        needed = self.view_role if request.method in ("GET", "HEAD") else self.edit_role
        if not self.membership.has_role(needed):
            raise PermissionDenied(f"This needs the {needed} role in {self.workspace.name}.")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[return-value]

    @property
    def membership(self) -> Membership:
        membership: Membership = self.request.membership  # type: ignore[attr-defined]
        return membership

    @property
    def workspace(self) -> Workspace:
        return self.membership.workspace

    def scoped(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return scope_to_workspace(queryset, self.workspace)


def flash_service_error(request: HttpRequest, error: APIError) -> None:
    messages.error(request, str(error.detail))
