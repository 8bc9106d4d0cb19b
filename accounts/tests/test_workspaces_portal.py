"""Workspaces in the portal: one of your own on sign-up, several to switch between, and rate-limited sign-in."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail
from django.test import Client

from accounts.middleware import SESSION_KEY
from accounts.models import Membership, Role, Scope, User, Workspace
from accounts.services.api_keys import api_key_create
from accounts.tests.factories import PASSWORD, MembershipFactory, UserFactory
from accounts.tests.helpers import flashed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def test_signing_up_creates_a_workspace_owned_by_the_new_user():
    response = Client().post(
        "/accounts/signup/", {"email": "founder@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )

    assert response.status_code == 302
    user = User.objects.get(email="founder@example.com")
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert membership.workspace.name == "founder's workspace"
    assert [message.to for message in mail.outbox] == [["founder@example.com"]]  # the verification mail


@pytest.fixture
def two_workspaces(owner, outsider):
    """The Acme owner is also a member of Globex."""
    MembershipFactory.create(user=owner.user, workspace=outsider.workspace, role=Role.MEMBER)
    return owner.workspace, outsider.workspace


def test_a_user_switches_between_their_workspaces(as_role, two_workspaces):
    acme, globex = two_workspaces
    globex_key = api_key_create(workspace=globex, name="Globex key", scopes=[Scope.SESSIONS_READ], created_by=None)
    client = as_role("owner")
    overview = client.get("/").content.decode()
    assert "<h1>Acme</h1>" in overview
    assert "Switch workspace" in overview

    response = client.post("/workspaces/switch/", {"workspace_id": str(globex.pk)})

    assert response.status_code == 302
    assert "Switched to Globex." in flashed(response)
    assert client.session[SESSION_KEY] == str(globex.pk)
    assert "<h1>Globex</h1>" in client.get("/").content.decode()
    # The pages now act on Globex, with the role held there: a member of Globex may not see its keys.
    assert client.get("/workspace/api-keys/").status_code == 403
    assert "Globex" in client.get("/workspace/members/").content.decode()

    client.post("/workspaces/switch/", {"workspace_id": str(acme.pk)})
    keys_page = client.get("/workspace/api-keys/")
    assert keys_page.status_code == 200
    assert globex_key.api_key.prefix not in keys_page.content.decode()


@pytest.mark.parametrize("target", ["other", "unknown", "garbage"])
def test_switching_to_a_workspace_you_are_not_a_member_of_is_refused(as_role, owner, outsider, target):
    workspace_id = {
        "other": str(outsider.workspace_id),
        "unknown": str(uuid.uuid4()),
        "garbage": "not-a-uuid",
    }[target]
    client = as_role("owner")

    response = client.post("/workspaces/switch/", {"workspace_id": workspace_id})

    assert response.status_code == 302
    assert "You are not a member of that workspace." in flashed(response)
    assert client.session.get(SESSION_KEY) != workspace_id
    assert "<h1>Acme</h1>" in client.get("/").content.decode()


def test_creating_a_workspace_makes_you_its_owner_and_switches_to_it(as_role, member):
    client = as_role("member")

    response = client.post("/workspaces/new/", {"name": "Side project"})

    assert response.status_code == 302
    workspace = Workspace.objects.get(name="Side project")
    assert Membership.objects.get(user=member.user, workspace=workspace).role == Role.OWNER
    assert client.session[SESSION_KEY] == str(workspace.pk)
    assert client.get("/workspace/api-keys/").status_code == 200


def test_a_user_without_a_workspace_is_sent_to_create_one():
    client = Client()
    client.force_login(UserFactory.create())

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/workspaces/new/"


def test_after_leaving_the_current_workspace_the_portal_falls_back_to_another(as_role, two_workspaces, member):
    _, globex = two_workspaces
    client = as_role("member")
    MembershipFactory.create(user=member.user, workspace=globex, role=Role.MEMBER)

    assert client.post(f"/workspace/members/{member.pk}/remove/").status_code == 302

    assert "<h1>Globex</h1>" in client.get("/").content.decode()


def test_an_admin_renames_the_workspace_and_a_member_may_not(as_role, workspace):
    assert as_role("member").post("/workspace/settings/", {"name": "Mine"}).status_code == 403
    assert as_role("admin").post("/workspace/settings/", {"name": "Acme Corp"}).status_code == 302

    workspace.refresh_from_db()
    assert workspace.name == "Acme Corp"


def test_failed_sign_ins_are_rate_limited():
    user = UserFactory.create(email="forgetful@example.com")
    client = Client()

    refusals = []
    for _ in range(6):
        response = client.post("/accounts/login/", {"login": user.email, "password": "not the password"})
        assert response.status_code == 200
        refusals.append(response.context["form"].non_field_errors())
    # Even the right password is refused now.
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})

    assert "not correct" in str(refusals[0])
    assert "Too many failed login attempts" in str(refusals[-1])
    assert response.status_code == 200
    assert "Too many failed login attempts" in str(response.context["form"].non_field_errors())
    assert "_auth_user_id" not in client.session
