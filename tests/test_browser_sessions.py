"""The portal's sessions pages against a real gateway (ASGI, WebSockets) and a real sandbox worker."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import make_password

from accounts.models import Role
from accounts.tests.factories import PASSWORD, MembershipFactory
from tests.fixtures.platform import Platform

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def sign_in(page: Any, platform: Platform) -> None:
    member = MembershipFactory.create(workspace=platform.workspace, role=Role.MEMBER, user__email="live@e2e.test")
    # The gateway process knows only production hashers.
    member.user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    member.user.save(update_fields=["password"])
    page.goto(platform.gateway.url + "/accounts/login/")
    page.fill("input[name=login]", member.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(platform.gateway.url + "/")


def test_a_member_links_a_sandbox_session_and_sees_its_state_live(page: Any, platform: Platform) -> None:
    platform.start_worker("w1")
    sign_in(page, platform)
    page.goto(platform.gateway.url + "/sessions/")
    page.fill("input[name=name]", "Support line")
    page.click("text=Create and link")

    # The QR appears without a reload: the page's WebSocket hears the worker's events.
    qr = page.locator("#session-qr")
    qr.wait_for(state="visible", timeout=20_000)
    assert page.evaluate("document.body.dataset.live") == "on"
    first = qr.get_attribute("src")
    page.wait_for_function(
        "src => document.querySelector('#session-qr') && document.querySelector('#session-qr').src.indexOf(src) < 0",
        arg=first,
        timeout=10_000,
    )

    # Linking happens elsewhere (here: through the API); the open page turns to Connected by itself.
    sid = page.url.rstrip("/").split("/")[-1]
    assert platform.api.post(f"/sessions/{sid}/sandbox/scan", json={"phone": "+15550100999"}).status_code == 202
    page.wait_for_selector("#session-phone:has-text('+15550100999')", timeout=20_000)
    assert page.locator("[data-live-field=state]").inner_text() == "Connected"
    assert page.locator("#session-qr").count() == 0

    page.goto(platform.gateway.url + "/sessions/")
    assert page.locator(f"[data-live-session='{sid}'] [data-live-field=state]").inner_text() == "Connected"
