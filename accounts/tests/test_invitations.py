"""Invitations: the mailed, signed link; joining as a new or an existing user; every way a link stops working."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import resolve
from django.utils import timezone

from accounts.middleware import SESSION_KEY
from accounts.models import Invitation, Membership, Role, User
from accounts.services.invitations import (
    INVITATION_LIFETIME,
    invitation_create,
    invitation_from_token,
    invitation_token,
)
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.helpers import flashed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

MEMBERS_PAGE = "/workspace/members/"


def link_in(message: mail.EmailMessage) -> str:
    """The path of the invitation link in a mail."""
    match = re.search(r"https?://\S+/invitations/\S+/", str(message.body))
    assert match, message.body
    return urlsplit(match.group(0)).path


def token_of(path: str) -> str:
    return resolve(path).kwargs["token"]


@pytest.fixture
def invite(workspace, admin, django_capture_on_commit_callbacks):
    """Invite an address as the admin, through the service, and return the invitation and its mailed link."""

    def make(email: str = "newcomer@example.com", role: str = Role.MEMBER) -> tuple[Invitation, str]:
        with django_capture_on_commit_callbacks(execute=True):
            invitation = invitation_create(workspace=workspace, email=email, role=role, invited_by=admin)
        return invitation, link_in(mail.outbox[-1])

    return make


def test_inviting_by_email_sends_a_signed_link(as_role, workspace, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_role("admin").post(MEMBERS_PAGE, {"email": "Newcomer@Example.com", "role": Role.ADMIN})

    assert response.status_code == 302
    invitation = Invitation.objects.get(workspace=workspace)
    assert invitation.email == "newcomer@example.com"
    assert invitation.role == Role.ADMIN
    assert invitation.invited_by is not None
    assert invitation.invited_by.email == "admin@acme.test"
    assert invitation.expires_at == pytest.approx(timezone.now() + INVITATION_LIFETIME, abs=timedelta(minutes=1))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newcomer@example.com"]
    assert "Acme" in message.subject
    token = token_of(link_in(message))
    assert str(invitation.pk) not in token  # the id is signed, not merely in the link
    assert invitation_from_token(token) == invitation


def test_a_new_user_signs_up_from_the_link_and_joins_without_a_second_verification(invite, workspace):
    invitation, link = invite(role=Role.ADMIN)
    client = Client()

    page = client.get(link)
    assert page.status_code == 200
    assert "newcomer@example.com" in page.content.decode()
    response = client.post(
        "/accounts/signup/", {"email": "newcomer@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )

    assert response.status_code == 302
    user = User.objects.get(email="newcomer@example.com")
    assert [(m.workspace_id, m.role) for m in Membership.objects.filter(user=user)] == [(workspace.pk, Role.ADMIN)]
    assert EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1  # only the invitation: no verification mail
    assert client.session["_auth_user_id"] == str(user.pk)  # signed in straight away
    assert client.session[SESSION_KEY] == str(workspace.pk)
    invitation.refresh_from_db()
    assert invitation.accepted_by == user
    overview = client.get("/")
    assert overview.status_code == 200
    assert "Acme" in overview.content.decode()


def test_an_existing_user_signs_in_from_the_link_and_accepts(invite, workspace):
    user = UserFactory.create(email="newcomer@example.com")
    invitation, link = invite()
    client = Client()

    assert client.get(link).status_code == 200
    signed_in = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert signed_in.status_code == 302
    assert signed_in["Location"] == link  # back to the invitation after signing in
    assert "Join workspace" in client.get(link).content.decode()
    accepted = client.post(link)

    assert accepted.status_code == 302
    assert Membership.objects.get(user=user, workspace=workspace).role == Role.MEMBER
    assert client.session[SESSION_KEY] == str(workspace.pk)
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    assert invitation.accepted_by == user


def test_a_link_works_only_once(invite):
    user = UserFactory.create(email="newcomer@example.com")
    invitation, link = invite()
    client = Client()
    client.force_login(user)
    assert client.post(link).status_code == 302

    again = client.post(link)

    assert again.status_code == 409
    assert "already been accepted" in again.content.decode()
    assert "already been accepted" in client.get(link).content.decode()
    assert Membership.objects.filter(user=user, workspace=invitation.workspace).count() == 1


def signed_in_as(email: str) -> Client:
    client = Client()
    client.force_login(UserFactory.create(email=email))
    return client


def assert_refused(response, status: int, text: str, invitation: Invitation) -> None:
    assert response.status_code == status
    assert text in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert not Membership.objects.filter(workspace=invitation.workspace, user__email=invitation.email).exists()


def test_an_expired_invitation_is_refused(invite):
    invitation, link = invite()
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client = signed_in_as("newcomer@example.com")

    assert_refused(client.get(link), 410, "This invitation has expired.", invitation)
    assert_refused(client.post(link), 410, "This invitation has expired.", invitation)


def test_a_link_signed_more_than_seven_days_ago_is_refused(invite, monkeypatch):
    invitation, _ = invite()
    # The row still says "pending" (expires_at is in the future): only the signature's age can refuse the link.
    eight_days_ago = time.time() - timedelta(days=8).total_seconds()
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: eight_days_ago)
        old_token = invitation_token(invitation)
    assert invitation.is_pending
    client = signed_in_as("newcomer@example.com")

    assert_refused(client.post(f"/invitations/{old_token}/"), 410, "This invitation has expired.", invitation)


def test_a_withdrawn_invitation_is_refused(invite, as_role):
    invitation, link = invite()
    assert as_role("admin").post(f"/workspace/invitations/{invitation.pk}/revoke/").status_code == 302
    client = signed_in_as("newcomer@example.com")

    assert_refused(client.get(link), 410, "This invitation was withdrawn.", invitation)
    assert_refused(client.post(link), 410, "This invitation was withdrawn.", invitation)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"), id="signature"),
        pytest.param(lambda token: token.replace(token.split(":")[0], "X" + token.split(":")[0][1:], 1), id="payload"),
        pytest.param(lambda token: "not-a-token", id="garbage"),
    ],
)
def test_a_tampered_link_is_refused(invite, tamper):
    invitation, link = invite()
    client = signed_in_as("newcomer@example.com")

    assert_refused(client.post(f"/invitations/{tamper(token_of(link))}/"), 404, "not valid", invitation)


def test_accepting_while_signed_in_as_another_address_is_refused(invite):
    invitation, link = invite()
    client = signed_in_as("someone-else@example.com")

    response = client.post(link)

    assert_refused(response, 403, "This invitation is for newcomer@example.com", invitation)
    assert not Membership.objects.filter(user__email="someone-else@example.com").exists()


@pytest.mark.parametrize("role", ["admin", "owner"])
def test_admins_and_owners_may_invite(as_role, role, workspace, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_role(role).post(MEMBERS_PAGE, {"email": "friend@example.com", "role": Role.MEMBER})

    assert response.status_code == 302
    assert Invitation.objects.filter(workspace=workspace, email="friend@example.com").exists()
    assert [message.to for message in mail.outbox] == [["friend@example.com"]]


def test_a_member_may_not_invite(as_role, workspace, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_role("member").post(MEMBERS_PAGE, {"email": "friend@example.com", "role": Role.MEMBER})

    assert response.status_code == 403
    assert not Invitation.objects.filter(workspace=workspace).exists()
    assert mail.outbox == []


def test_only_an_owner_may_invite_an_owner(as_role, workspace, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        by_admin = as_role("admin").post(MEMBERS_PAGE, {"email": "boss@example.com", "role": Role.OWNER})
        by_owner = as_role("owner").post(MEMBERS_PAGE, {"email": "boss2@example.com", "role": Role.OWNER})

    assert by_admin.status_code == 403
    assert "Only an owner can invite another owner." in flashed(by_admin)
    assert by_owner.status_code == 302
    assert list(Invitation.objects.values_list("email", flat=True)) == ["boss2@example.com"]


def test_inviting_an_existing_member_is_refused(as_role, member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_role("admin").post(MEMBERS_PAGE, {"email": "MEMBER@acme.test", "role": Role.ADMIN})

    assert response.status_code == 409
    assert "member@acme.test is already a member of this workspace." in flashed(response)
    assert not Invitation.objects.exists()
    assert mail.outbox == []
    assert Membership.objects.get(pk=member.pk).role == Role.MEMBER
