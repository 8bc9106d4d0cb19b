"""Attach the signed-in user's current workspace membership to each portal request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.models import Membership

SESSION_KEY = "current_workspace_id"


def current_membership(request: HttpRequest) -> Membership | None:
    user = request.user
    if not user.is_authenticated:
        return None
    memberships = Membership.objects.filter(user=user).select_related("workspace")
    chosen = request.session.get(SESSION_KEY)
    membership = memberships.filter(workspace_id=chosen).first() if chosen else None
    # The session's choice may be gone (removed from that workspace): fall back to the oldest membership.
    return membership or memberships.order_by("created_at").first()


class CurrentWorkspaceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if not path.startswith(("/api/", "/internal/", "/static/", "/healthz", "/readyz")):
            request.membership = current_membership(request)  # type: ignore[attr-defined]
            request.workspace = request.membership.workspace if request.membership else None  # type: ignore[attr-defined]
        return self.get_response(request)
