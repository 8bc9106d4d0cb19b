"""Workspaces and memberships: creating, switching roles, leaving and deleting."""

from __future__ import annotations

from django.db import transaction

from accounts.live import CLOSE_FORBIDDEN, api_key_group, close_live_sockets_after_commit, member_group
from accounts.models import Membership, Role, User, Workspace
from paas.api.errors import APIError, Conflict


def workspace_name_for(user: User) -> str:
    local = user.email.split("@", 1)[0]
    return f"{(user.full_name or local)[:80]}'s workspace"


@transaction.atomic
def workspace_create(*, owner: User, name: str) -> Workspace:
    workspace = Workspace.objects.create(name=name.strip() or workspace_name_for(owner))
    Membership.objects.create(user=owner, workspace=workspace, role=Role.OWNER)
    return workspace


@transaction.atomic
def workspace_rename(*, workspace: Workspace, name: str) -> Workspace:
    workspace.name = name.strip()
    workspace.save(update_fields=["name"])
    return workspace


@transaction.atomic
def workspace_delete(*, workspace: Workspace, actor: Membership) -> None:
    if not actor.has_role(Role.OWNER):
        raise APIError("owner_required", "Only an owner can delete the workspace.", status_code=403)
    members = workspace.memberships.values_list("user_id", flat=True)
    groups = [member_group(workspace.pk, user_id) for user_id in members]
    groups += [api_key_group(pk) for pk in workspace.api_keys.values_list("pk", flat=True)]
    # Writes that refer to the workspace finish first and none start while it goes: rows that name it lock it (FOR
    # KEY SHARE), and a webhook attempt locks its endpoint before it logs (sessions_app/services/webhooks/
    # deliveries.py). Without the locks an attempt logged meanwhile named a delivery the delete had already collected,
    # and failed it.
    list(Workspace.objects.select_for_update().filter(pk=workspace.pk).values_list("pk", flat=True))
    list(workspace.webhook_endpoints.select_for_update().values_list("pk", flat=True))
    workspace.delete()
    close_live_sockets_after_commit(groups, code=CLOSE_FORBIDDEN, reason="workspace_deleted")


def _owners_left_without(membership: Membership) -> int:
    # Lock every owner row, this one's too: two owners demoting each other at once must not each count the other.
    # (count() would drop FOR UPDATE, so the rows are fetched.)
    owners = (
        Membership.objects.select_for_update()
        .filter(workspace_id=membership.workspace_id, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    return len([pk for pk in owners if pk != membership.pk])


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor: Membership) -> Membership:
    role = Role(role)
    if not actor.has_role(Role.ADMIN):
        raise APIError("admin_required", "Only admins and owners can change roles.", status_code=403)
    # Only owners hand out or take away ownership.
    if (role == Role.OWNER or membership.role == Role.OWNER) and not actor.has_role(Role.OWNER):
        raise APIError("owner_required", "Only an owner can make or unmake owners.", status_code=403)
    if membership.role == Role.OWNER and role != Role.OWNER and _owners_left_without(membership) == 0:
        raise Conflict("last_owner", "The last owner cannot be demoted; make someone else an owner first.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Membership) -> None:
    leaving_self = membership.pk == actor.pk
    if not leaving_self and not actor.has_role(Role.ADMIN):
        raise APIError("admin_required", "Only admins and owners can remove members.", status_code=403)
    if not leaving_self and membership.role == Role.OWNER and not actor.has_role(Role.OWNER):
        raise APIError("owner_required", "Only an owner can remove an owner.", status_code=403)
    if membership.role == Role.OWNER and _owners_left_without(membership) == 0:
        raise Conflict("last_owner", "The last owner cannot leave; make someone else an owner or delete the workspace.")
    membership.delete()
    close_live_sockets_after_commit(
        [member_group(membership.workspace_id, membership.user_id)], code=CLOSE_FORBIDDEN, reason="membership_removed"
    )
