"""Portal: the page an invitation link opens, for signed-in and new users alike."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.middleware import SESSION_KEY
from accounts.services.invitations import invitation_accept, invitation_check_usable, invitation_from_token
from accounts.services.signup import PENDING_INVITATION_KEY, remember_invitation
from paas.api.errors import APIError


def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_from_token(token)
        invitation_check_usable(invitation)
    except APIError as error:
        return render(request, "accounts/invitation.html", {"error": error.detail}, status=error.status_code)

    if not request.user.is_authenticated:
        remember_invitation(request, invitation, token)
        return render(request, "accounts/invitation.html", {"invitation": invitation})

    if request.method == "POST":
        try:
            membership = invitation_accept(invitation=invitation, user=request.user)
        except APIError as error:
            return render(request, "accounts/invitation.html", {"error": error.detail}, status=error.status_code)
        request.session.pop(PENDING_INVITATION_KEY, None)
        request.session[SESSION_KEY] = str(membership.workspace_id)
        messages.success(request, f"You joined {membership.workspace.name}.")
        return redirect("dashboard")
    return render(request, "accounts/invitation.html", {"invitation": invitation, "token": token})
