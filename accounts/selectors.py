"""Read-side queries of the accounts app."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from accounts.models import APIKey, APIKeyQuerySet, Invitation, Membership, User, Workspace


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("workspace").order_by("workspace__name")


def membership_get(*, user: User, workspace_id: str) -> Membership | None:
    try:
        uuid.UUID(workspace_id)
    except ValueError:
        return None
    return Membership.objects.filter(user=user, workspace_id=workspace_id).select_related("workspace").first()


def member_list(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.filter(workspace=workspace).select_related("user").order_by("created_at")


def pending_invitation_list(*, workspace: Workspace) -> list[Invitation]:
    return [
        i for i in Invitation.objects.filter(workspace=workspace, accepted_at=None, revoked_at=None) if i.is_pending
    ]


def api_key_list(*, workspace: Workspace) -> APIKeyQuerySet:
    return APIKey.objects.filter(workspace=workspace).select_related("created_by")
