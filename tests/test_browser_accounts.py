"""A newcomer's first visit, in a real browser: sign up, verify, sign in, create an API key, use it, revoke it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.core import mail

from accounts.models import APIKey, Membership, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "newcomer@example.com"
PASSWORD = "a long and unguessable passphrase"


def whoami(live_server: Any, raw_key: str) -> httpx.Response:
    return httpx.get(live_server.url + "/api/v1/whoami", headers={"Authorization": f"Bearer {raw_key}"}, timeout=10)


def test_sign_up_verify_sign_in_and_manage_an_api_key(page: Any, live_server: Any) -> None:
    # Sign up: allauth mails a verification link.
    page.goto(live_server.url + "/accounts/signup/")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    assert [message.to for message in mail.outbox] == [[EMAIL]]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", str(mail.outbox[0].body))
    assert link, mail.outbox[0].body

    # Open the link and confirm; then sign in.
    page.goto(live_server.url + urlsplit(link.group(0)).path)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=login]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()

    # The overview shows the workspace the new user owns.
    page.wait_for_url(live_server.url + "/")
    membership = Membership.objects.select_related("workspace").get(user__email=EMAIL)
    assert membership.role == Role.OWNER
    assert page.locator("main h1").inner_text() == membership.workspace.name

    # Workspace → API keys: create a key; the page shows it once.
    page.get_by_role("link", name="API keys").click()
    page.wait_for_url(live_server.url + "/workspace/api-keys/")
    page.fill("input[name=name]", "Browser key")
    page.get_by_role("button", name="Create key").click()
    new_key = page.locator("#new-api-key")
    new_key.wait_for()
    raw_key = new_key.input_value()
    assert raw_key.startswith("sb_live_")
    api_key = APIKey.objects.get(workspace=membership.workspace, name="Browser key")
    assert raw_key.startswith(api_key.prefix)

    response = whoami(live_server, raw_key)
    assert response.status_code == 200, response.text
    assert response.json()["workspace"]["id"] == str(membership.workspace_id)
    assert response.json()["api_key"]["created_by"] == EMAIL

    # Revoke it in the portal: the next request is refused.
    page.locator(f"tr[data-key='{api_key.prefix}']").get_by_role("button", name="Revoke").click()
    page.wait_for_selector("text=It is refused from now on.")
    assert page.locator("#new-api-key").count() == 0  # a reload never shows the key again
    response = whoami(live_server, raw_key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"
