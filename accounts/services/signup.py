"""What happens when a person signs up: join the workspace they were invited to, or get a workspace of their own."""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from django.http import HttpRequest

from accounts.middleware import SESSION_KEY
from accounts.models import Invitation, User
from accounts.services.invitations import invitation_accept, invitation_from_token
from accounts.services.workspaces import workspace_create, workspace_name_for
from paas.api.errors import APIError

PENDING_INVITATION_KEY = "pending_invitation_token"


def remember_invitation(request: HttpRequest, invitation: Invitation, token: str) -> None:
    """Keep the invitation for after sign-up or sign-in. The link reached the invitee's inbox, so the address is
    verified: signing up with it needs no second verification mail."""
    request.session[PENDING_INVITATION_KEY] = token
    get_adapter(request).stash_verified_email(request, invitation.email)


def pending_invitation(request: HttpRequest) -> Invitation | None:
    token = request.session.get(PENDING_INVITATION_KEY)
    if not token:
        return None
    try:
        return invitation_from_token(token)
    except APIError:
        request.session.pop(PENDING_INVITATION_KEY, None)
        return None


def user_signed_up(*, request: HttpRequest, user: User) -> None:
    invitation = pending_invitation(request)
    if invitation is not None and invitation.email.lower() == user.email.lower():
        try:
            membership = invitation_accept(invitation=invitation, user=user)
        except APIError:
            pass  # used or expired meanwhile: fall through to a workspace of their own
        else:
            request.session.pop(PENDING_INVITATION_KEY, None)
            request.session[SESSION_KEY] = str(membership.workspace_id)
            return
    workspace = workspace_create(owner=user, name=workspace_name_for(user))
    request.session[SESSION_KEY] = str(workspace.pk)
