"""What each role may do in the portal and the API, and that another workspace's objects are simply not found."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from accounts.models import APIKey, Invitation, Membership, Role, Scope, Workspace
from accounts.services.api_keys import api_key_create
from accounts.services.invitations import invitation_create
from accounts.services.workspaces import membership_change_role
from accounts.tests.factories import MembershipFactory
from accounts.tests.helpers import assert_api_error, flashed
from paas.api.errors import Conflict

pytestmark = pytest.mark.django_db

KEYS_PAGE = "/workspace/api-keys/"


@pytest.fixture
def acme_key(workspace, owner):
    return api_key_create(workspace=workspace, name="Acme CRM", scopes=[Scope.SESSIONS_READ], created_by=owner.user)


def role_url(membership: Membership) -> str:
    return f"/workspace/members/{membership.pk}/role/"


def remove_url(membership: Membership) -> str:
    return f"/workspace/members/{membership.pk}/remove/"


def role_of(membership: Membership) -> str:
    return Membership.objects.get(pk=membership.pk).role


# API keys in the portal


@pytest.mark.parametrize(("role", "status"), [("member", 403), ("admin", 200), ("owner", 200)])
def test_only_admins_and_owners_see_the_api_keys_page(as_role, acme_key, role, status):
    response = as_role(role).get(KEYS_PAGE)

    assert response.status_code == status
    assert (acme_key.api_key.prefix in response.content.decode()) is (status == 200)


def test_a_member_cannot_create_a_key(as_role, workspace):
    response = as_role("member").post(KEYS_PAGE, {"name": "mine", "scopes": [Scope.SESSIONS_READ]})

    assert response.status_code == 403
    assert not APIKey.objects.filter(workspace=workspace, name="mine").exists()


def test_a_member_cannot_revoke_a_key(as_role, acme_key):
    response = as_role("member").post(f"{KEYS_PAGE}{acme_key.api_key.pk}/revoke/")

    assert response.status_code == 403
    acme_key.api_key.refresh_from_db()
    assert acme_key.api_key.revoked_at is None


def test_an_admin_revokes_a_key_in_the_portal(as_role, acme_key):
    response = as_role("admin").post(f"{KEYS_PAGE}{acme_key.api_key.pk}/revoke/")

    assert response.status_code == 302
    acme_key.api_key.refresh_from_db()
    assert acme_key.api_key.revoked_at is not None


# Members and roles


def test_a_member_cannot_invite(as_role, workspace):
    response = as_role("member").post("/workspace/members/", {"email": "friend@acme.test", "role": Role.MEMBER})

    assert response.status_code == 403
    assert not Invitation.objects.filter(workspace=workspace).exists()


def test_a_member_cannot_change_roles(as_role, admin, member):
    response = as_role("member").post(role_url(admin), {"role": Role.MEMBER})

    assert response.status_code == 403
    assert role_of(admin) == Role.ADMIN
    assert role_of(member) == Role.MEMBER


def test_a_member_cannot_remove_someone_else(as_role, admin):
    response = as_role("member").post(remove_url(admin))

    assert response.status_code == 302
    assert "Only admins and owners can remove members." in flashed(response)
    assert Membership.objects.filter(pk=admin.pk).exists()


def test_a_member_may_leave(as_role, member):
    response = as_role("member").post(remove_url(member))

    assert response.status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_an_admin_manages_members(as_role, member, workspace):
    client = as_role("admin")

    assert client.post(role_url(member), {"role": Role.ADMIN}).status_code == 302
    assert role_of(member) == Role.ADMIN
    assert client.post(remove_url(member)).status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_an_admin_cannot_make_owners(as_role, member):
    response = as_role("admin").post(role_url(member), {"role": Role.OWNER})

    assert "Only an owner can make or unmake owners." in flashed(response)
    assert role_of(member) == Role.MEMBER


def test_an_admin_cannot_make_themselves_owner(as_role, admin):
    response = as_role("admin").post(role_url(admin), {"role": Role.OWNER})

    assert "Only an owner can make or unmake owners." in flashed(response)
    assert role_of(admin) == Role.ADMIN


def test_an_admin_cannot_demote_or_remove_an_owner(as_role, owner):
    client = as_role("admin")

    assert "Only an owner can make or unmake owners." in flashed(client.post(role_url(owner), {"role": Role.MEMBER}))
    assert "Only an owner can remove an owner." in flashed(client.post(remove_url(owner)))
    assert role_of(owner) == Role.OWNER


def test_an_owner_makes_another_owner(as_role, admin):
    response = as_role("owner").post(role_url(admin), {"role": Role.OWNER})

    assert response.status_code == 302
    assert role_of(admin) == Role.OWNER


def test_the_last_owner_cannot_be_demoted(as_role, owner):
    response = as_role("owner").post(role_url(owner), {"role": Role.ADMIN})

    assert response.status_code == 302
    assert "The last owner cannot be demoted; make someone else an owner first." in flashed(response)
    assert role_of(owner) == Role.OWNER


def test_the_last_owner_cannot_leave(as_role, owner):
    response = as_role("owner").post(remove_url(owner))

    assert response.status_code == 302
    assert any("The last owner cannot leave" in message for message in flashed(response))
    assert role_of(owner) == Role.OWNER


def test_an_owner_may_leave_once_someone_else_owns_the_workspace(as_role, owner, workspace):
    MembershipFactory.create(workspace=workspace, role=Role.OWNER)

    response = as_role("owner").post(remove_url(owner))

    assert response.status_code == 302
    assert not Membership.objects.filter(pk=owner.pk).exists()


# Deleting the workspace


def delete_workspace(client, name: str):
    return client.post("/workspace/settings/", {"delete": "1", "confirm_name": name})


def test_an_admin_cannot_delete_the_workspace(as_role, workspace):
    response = delete_workspace(as_role("admin"), workspace.name)

    assert "Only an owner can delete the workspace." in flashed(response)
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_a_member_cannot_delete_the_workspace(as_role, workspace):
    response = delete_workspace(as_role("member"), workspace.name)

    assert response.status_code == 403
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_an_owner_must_confirm_the_name_to_delete(as_role, workspace):
    response = delete_workspace(as_role("owner"), "Not Acme")

    assert response.status_code == 400
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_an_owner_deletes_the_workspace_and_everything_in_it(as_role, workspace, acme_key, outsider):
    response = delete_workspace(as_role("owner"), workspace.name)

    assert response.status_code == 302
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert not Membership.objects.filter(workspace_id=workspace.pk).exists()
    assert not APIKey.objects.filter(pk=acme_key.api_key.pk).exists()
    assert Workspace.objects.filter(pk=outsider.workspace_id).exists()


# Another workspace's objects: 404, never 403, and nothing changes


def test_an_outsider_cannot_revoke_another_workspaces_key_in_the_portal(as_role, acme_key):
    response = as_role("outsider").post(f"{KEYS_PAGE}{acme_key.api_key.pk}/revoke/")

    assert response.status_code == 404
    acme_key.api_key.refresh_from_db()
    assert acme_key.api_key.revoked_at is None


def test_an_outsider_does_not_see_another_workspaces_keys(as_role, acme_key):
    response = as_role("outsider").get(KEYS_PAGE)

    assert response.status_code == 200
    assert acme_key.api_key.prefix not in response.content.decode()


def test_an_outsider_cannot_change_a_role_in_another_workspace(as_role, member):
    response = as_role("outsider").post(role_url(member), {"role": Role.OWNER})

    assert response.status_code == 404
    assert role_of(member) == Role.MEMBER


def test_an_outsider_cannot_remove_a_member_of_another_workspace(as_role, member):
    response = as_role("outsider").post(remove_url(member))

    assert response.status_code == 404
    assert Membership.objects.filter(pk=member.pk).exists()


def test_an_outsider_cannot_withdraw_another_workspaces_invitation(as_role, workspace, admin):
    invitation = invitation_create(workspace=workspace, email="friend@acme.test", role=Role.MEMBER, invited_by=admin)

    response = as_role("outsider").post(f"/workspace/invitations/{invitation.pk}/revoke/")

    assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


@pytest.mark.parametrize("method", ["get", "delete"])
def test_an_outsiders_key_cannot_reach_another_workspaces_key(outsider, acme_key, api_client_for, method):
    keyed = api_client_for(outsider.workspace, [Scope.KEYS_MANAGE])

    response = getattr(keyed.client, method)(f"/api/v1/api-keys/{acme_key.api_key.pk}")

    assert_api_error(response, 404, "not_found")
    acme_key.api_key.refresh_from_db()
    assert acme_key.api_key.revoked_at is None


def test_an_outsiders_key_lists_only_its_own_workspaces_keys(outsider, acme_key, api_client_for):
    keyed = api_client_for(outsider.workspace, [Scope.KEYS_MANAGE])

    ids = [item["id"] for item in keyed.client.get("/api/v1/api-keys").json()["results"]]

    assert ids == [str(APIKey.objects.get(workspace=outsider.workspace).pk)]


# Scopes


ALL_BUT_KEYS_MANAGE = [scope for scope in Scope.values if scope != Scope.KEYS_MANAGE]


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/api/v1/api-keys", None),
        ("post", "/api/v1/api-keys", {"name": "more", "scopes": ALL_BUT_KEYS_MANAGE}),
        ("get", "/api/v1/api-keys/{own}", None),
        ("delete", "/api/v1/api-keys/{own}", None),
    ],
)
def test_a_key_without_keys_manage_cannot_manage_keys(workspace, api_client_for, method, path, data):
    keyed = api_client_for(workspace, ALL_BUT_KEYS_MANAGE)
    own = APIKey.objects.get(workspace=workspace)

    response = getattr(keyed.client, method)(path.format(own=own.pk), data)

    error = assert_api_error(response, 403, "missing_scope")
    assert "keys:manage" in error["message"]
    assert list(APIKey.objects.filter(workspace=workspace)) == [own]
    own.refresh_from_db()
    assert own.revoked_at is None


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_themselves_at_once_leave_one_owner(workspace):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks")
    first, second = MembershipFactory.create_batch(2, workspace=workspace, role=Role.OWNER)
    changed = threading.Event()
    release = threading.Event()

    def demote_first_and_hold() -> None:
        try:
            with transaction.atomic():
                membership_change_role(membership=first, role=Role.ADMIN, actor=first)
                changed.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    other = threading.Thread(target=demote_first_and_hold)
    other.start()
    try:
        assert changed.wait(timeout=10)
        # The first demotion is not committed yet; let it commit shortly, while the second one waits for it.
        threading.Timer(0.3, release.set).start()
        with pytest.raises(Conflict) as refused:
            membership_change_role(membership=second, role=Role.ADMIN, actor=second)
    finally:
        release.set()
        other.join(timeout=10)

    assert refused.value.error_code == "last_owner"
    assert role_of(first) == Role.ADMIN
    assert role_of(second) == Role.OWNER
