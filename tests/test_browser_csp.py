"""The portal, the operator console and the API docs in Chromium under the production Content-Security-Policy: a
gateway process with DEBUG off (collected static files, WebSockets), and no page may break the policy.

Every violation is caught twice: the page's own `securitypolicyviolation` events (reported to the test through an
exposed function) and Chromium's console messages about the policy. Screenshots of each page go to the test's
tmp_path (or to $BROWSER_SCREENSHOTS)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password

from accounts.models import Role
from accounts.tests.factories import PASSWORD, MembershipFactory
from tests.fixtures.platform import Platform

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => window.reportViolation({
  page: location.pathname, directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile,
  line: e.lineNumber, sample: e.sample,
}));
"""
# Redoc's sidebar shows a Redocly logo from its CDN; the policy blocks it on purpose (no page reaches another host).
EXPECTED = [{"page": "/api/docs/redoc/", "directive": "img-src", "blocked": "https://cdn.redoc.ly/redoc/logo-mini.svg"}]


class PolicyWatch:
    def __init__(self, page: Any, shots: Path) -> None:
        self.page = page
        self.shots = shots
        self.violations: list[dict[str, Any]] = []
        self.console: list[str] = []
        page.context.expose_function("reportViolation", self._violation)
        page.context.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console.append(f"{page.url}: page error: {error}"))

    def _violation(self, violation: dict[str, Any]) -> None:
        self.violations.append(violation)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.console.append(f"{self.page.url}: {message.type}: {message.text}")

    def visit(self, url: str, *, ready: str = "main") -> None:
        self.page.goto(url)
        self.settle(ready)

    def settle(self, ready: str = "main") -> None:
        self.page.wait_for_selector(ready, timeout=20_000)
        self.page.wait_for_timeout(400)  # late violations (a script's injected style, a blocked image)
        name = re.sub(r"[^a-z0-9]+", "-", self.page.url.split("//", 1)[1].split("/", 1)[1].lower()).strip("-")
        self.page.screenshot(path=str(self.shots / f"{len(list(self.shots.iterdir())):02d}-{name or 'home'}.png"))

    def unexpected(self) -> list[dict[str, Any]]:
        def expected(violation: dict[str, Any]) -> bool:
            return any(all(violation.get(key) == value for key, value in case.items()) for case in EXPECTED)

        return [violation for violation in self.violations if not expected(violation)]


@pytest.fixture
def watch(page: Any, tmp_path: Path) -> PolicyWatch:
    shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    return PolicyWatch(page, shots)


def sign_in(watch: PolicyWatch, platform: Platform) -> None:
    owner = MembershipFactory.create(workspace=platform.workspace, role=Role.OWNER, user__email="csp@e2e.test")
    # The gateway process knows only production hashers. Staff too, for the operator console.
    owner.user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    owner.user.is_staff = owner.user.is_superuser = True
    owner.user.save(update_fields=["password", "is_staff", "is_superuser"])
    watch.visit(platform.gateway.url + "/accounts/login/")
    watch.page.fill("input[name=login]", owner.user.email)
    watch.page.fill("input[name=password]", PASSWORD)
    watch.page.click("main form button[type=submit]")
    watch.page.wait_for_url(platform.gateway.url + "/")


def test_every_page_keeps_to_the_content_security_policy(watch: PolicyWatch, platform: Platform) -> None:
    base = platform.gateway.url
    page = watch.page
    platform.start_worker("w1")
    sign_in(watch, platform)
    watch.settle()

    # Sessions: the page's WebSocket (connect-src) brings the QR code, which htmx swaps in, and then Connected.
    watch.visit(base + "/sessions/")
    page.fill("input[name=name]", "Policy line")
    page.click("text=Create and link")
    page.locator("#session-qr").wait_for(state="visible", timeout=20_000)
    assert page.evaluate("document.body.dataset.live") == "on"
    watch.settle()
    sid = page.url.rstrip("/").split("/")[-1]
    assert platform.api.post(f"/sessions/{sid}/sandbox/scan", json={"phone": "+15550100777"}).status_code == 202
    page.wait_for_selector("#session-phone:has-text('+15550100777')", timeout=20_000)
    watch.settle()

    # Delete asks first (data-confirm, no inline handler): dismissed, nothing happens; accepted, the session goes.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_timeout(500)
    assert page.url.rstrip("/").endswith(sid)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(base + "/sessions/")
    watch.settle()

    # API keys: the new key shows once; a click selects all of it (data-select-on-click).
    watch.visit(base + "/workspace/api-keys/")
    page.fill("input[name=name]", "Policy key")
    page.get_by_role("button", name="Create key").click()
    new_key = page.locator("#new-api-key")
    new_key.click()
    assert new_key.evaluate("el => [el.selectionStart, el.selectionEnd]") == [0, len(new_key.input_value())]
    watch.settle()

    # Webhooks: an endpoint and its secret page.
    watch.visit(base + "/workspace/webhooks/")
    page.fill("input[name=url]", "http://127.0.0.1:9/hook")
    page.locator("main form button[type=submit]").last.click()
    page.locator("#webhook-secret").wait_for()
    watch.settle()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_timeout(300)
    assert page.locator("#webhook-secret").count() == 1

    for path in (
        "/workspace/members/",
        "/workspace/settings/",
        "/workspaces/new/",
        "/profile/",
        "/accounts/email/",
        "/accounts/password/change/",
        "/accounts/2fa/",
        "/no-such-page/",
    ):
        watch.visit(base + path)
    # Setting up TOTP asks for the password again, then shows the QR code as a data: image (img-src data:).
    watch.visit(base + "/accounts/2fa/totp/activate/")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(base + "/accounts/2fa/totp/activate/")
    watch.settle()
    assert page.locator("main img[src^='data:']").evaluate("img => img.complete && img.naturalWidth > 0")

    # The operator console, and the enrollment token page that shows a new token once.
    watch.visit(base + "/admin/", ready="#content")
    watch.visit(base + "/admin/workers_app/worker/", ready="#changelist")
    watch.visit(base + "/admin/sessions_app/whatsappsession/", ready="#changelist")
    watch.visit(base + "/admin/workers_app/enrollmenttoken/add/", ready="#content")
    page.fill("input[name=name]", "policy")
    page.click("input[name=_save]")
    token = page.locator("#enrollment-token")
    token.wait_for()
    assert token.evaluate("el => getComputedStyle(el).userSelect") == "all"  # admin.css, not a style="" attribute
    watch.settle("#content")

    # The API reference: Swagger UI (its init script from /api/docs/?script) and Redoc.
    watch.visit(base + "/api/docs/", ready=".swagger-ui .info")
    page.locator(".opblock-summary").first.click()
    page.wait_for_selector(".opblock-body", timeout=10_000)
    watch.settle(".swagger-ui .info")
    watch.visit(base + "/api/docs/redoc/", ready=".redoc-wrap")
    page.fill("input[placeholder='Search...']", "webhook")  # Redoc's search runs in a blob: worker
    page.wait_for_selector("[data-role='search:results'] li", timeout=10_000)
    watch.settle(".redoc-wrap")

    assert watch.unexpected() == []
    assert [line for line in watch.console if "cdn.redoc.ly" not in line] == []
    # The expected block did happen: the policy is in force on the docs too.
    assert watch.violations, "no violation at all: is the policy sent?"
