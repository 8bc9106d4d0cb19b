"""The headers every answer carries: the Content-Security-Policy on pages, HSTS on HTTPS, and the redirect to HTTPS
that spares the probes, /metrics and the worker API. tests/test_browser_csp.py checks in Chromium that pages keep to
the policy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def policy(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/admin/login/", "/no-such-page/"])
def test_pages_allow_only_their_own_files(client: Client, path: str) -> None:
    directives = policy(client.get(path))
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == directives["base-uri"] == directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["connect-src"][0] == "'self'"
    assert directives["connect-src"][1].startswith(("ws://", "wss://"))


def test_swagger_ui_runs_under_the_portal_policy_with_its_init_script_from_a_file(client: Client) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert policy(page)["script-src"] == policy(page)["style-src"] == ["'self'"]
    html = page.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), html
    assert "<style" not in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


def test_redoc_may_insert_styles_and_start_a_blob_worker_but_runs_no_inline_script(client: Client) -> None:
    page = client.get("/api/docs/redoc/")
    assert page.status_code == 200
    directives = policy(page)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    assert directives["worker-src"] == ["'self'", "blob:"]
    html = page.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), html
    assert "https://fonts.googleapis.com" not in html


def _templates() -> Iterator[Path]:
    yield from (ROOT / "templates").rglob("*.html")
    for app in ("accounts", "sessions_app", "workers_app", "paas"):
        yield from (ROOT / app / "templates").rglob("*.html")


def test_no_template_has_inline_code_or_styles() -> None:
    """What the policy would refuse in a browser, found before a browser runs: an inline <script> (a JSON data block
    is fine), an inline <style>, a style="" attribute or an onclick=-like handler."""
    inline = re.compile(
        r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>|<style\b|\sstyle=|\son[a-z]+\s*=", re.IGNORECASE
    )
    comments = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.DOTALL)
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in _templates()
        for match in inline.finditer(comments.sub("", path.read_text()))
    ]
    assert len(list(_templates())) > 20
    assert found == []


@pytest.fixture
def redirecting() -> Iterator[Client]:
    """A client of a gateway with SECURE_SSL_REDIRECT on (the middleware reads it when the client's handler starts)."""
    with override_settings(
        SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=31_536_000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True
    ):
        yield Client()


def test_plain_http_is_redirected_to_https(redirecting: Client) -> None:
    for path in ("/accounts/login/", "/api/v1/whoami", "/admin/", "/api/docs/"):
        response = redirecting.get(path)
        assert response.status_code == 301, path
        assert response["Location"] == f"https://testserver{path}"


def test_probes_metrics_and_the_worker_api_answer_plain_http(redirecting: Client) -> None:
    assert redirecting.get("/healthz").status_code == 200
    assert redirecting.get("/readyz").status_code in {200, 503}
    with override_settings(METRICS_TOKEN="scrape-token"):
        assert redirecting.get("/metrics").status_code == 401
    # The worker API answers for itself: here, that the request carries no worker token.
    assert redirecting.post("/internal/v1/heartbeat", {}, content_type="application/json").status_code == 401
    assert redirecting.post("/internal/v1/workers/register", {}, content_type="application/json").status_code == 400


def test_behind_a_trusted_proxy_https_requests_are_served_with_hsts(redirecting: Client) -> None:
    with override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        proxied = Client()
        response = proxied.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
        assert response.status_code == 200
        assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        # A request the proxy marks as plain HTTP is still redirected.
        assert proxied.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="http").status_code == 301
    assert "Strict-Transport-Security" not in redirecting.get("/healthz")
