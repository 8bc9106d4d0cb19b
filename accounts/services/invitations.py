"""Invitations: a signed, expiring link sent by e-mail; accepting it once makes the invitee a member."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Membership, Role, User, Workspace
from paas.api.errors import APIError, Conflict

INVITATION_LIFETIME = timedelta(days=7)
_SALT = "accounts.invitation"


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(str(invitation.id), salt=_SALT)


def invitation_from_token(token: str) -> Invitation:
    """The invitation a link names; the signature stops forged or edited links, the row's state stops reuse."""
    max_age = INVITATION_LIFETIME
    try:
        invitation_id = signing.loads(token, salt=_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise APIError("invitation_expired", "This invitation has expired. Ask for a new one.", status_code=410)
    except signing.BadSignature:
        raise APIError("invitation_invalid", "This invitation link is not valid.", status_code=404)
    invitation = Invitation.objects.select_related("workspace").filter(pk=invitation_id).first()
    if invitation is None:
        raise APIError("invitation_invalid", "This invitation link is not valid.", status_code=404)
    return invitation


def invitation_url(invitation: Invitation) -> str:
    return settings.SITE_URL + reverse("invitation_accept", args=[invitation_token(invitation)])


@transaction.atomic
def invitation_create(*, workspace: Workspace, email: str, role: str, invited_by: Membership) -> Invitation:
    if not invited_by.has_role(Role.ADMIN):
        raise APIError("admin_required", "Only admins and owners can invite members.", status_code=403)
    if role == Role.OWNER and not invited_by.has_role(Role.OWNER):
        raise APIError("owner_required", "Only an owner can invite another owner.", status_code=403)
    email = email.strip().lower()
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise Conflict("already_member", f"{email} is already a member of this workspace.")
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=Role(role),
        invited_by=invited_by.user,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    transaction.on_commit(lambda: _send_invitation(invitation))
    return invitation


def _send_invitation(invitation: Invitation) -> None:
    context = {"invitation": invitation, "url": invitation_url(invitation)}
    send_mail(
        subject=f"[Switchboard] You are invited to {invitation.workspace.name}",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation) -> None:
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])


def invitation_check_usable(invitation: Invitation) -> None:
    """Raise the precise reason an invitation can no longer be accepted, if there is one."""
    if invitation.accepted_at is not None:
        raise Conflict("invitation_used", "This invitation has already been accepted.")
    if invitation.revoked_at is not None:
        raise APIError("invitation_revoked", "This invitation was withdrawn.", status_code=410)
    if invitation.expires_at <= timezone.now():
        raise APIError("invitation_expired", "This invitation has expired. Ask for a new one.", status_code=410)


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    invitation_check_usable(invitation)
    if user.email.lower() != invitation.email.lower():
        raise APIError(
            "invitation_wrong_user",
            f"This invitation is for {invitation.email}; you are signed in as {user.email}.",
            status_code=403,
        )
    membership, _ = Membership.objects.get_or_create(
        user=user, workspace=invitation.workspace, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership
