"""HTTPS, HSTS, cookies and the Content-Security-Policy come from the environment (paas/settings/security.py), with
production's values when DEBUG is off; `manage.py check --deploy` passes on a production environment.

Each case starts a fresh interpreter on paas.settings (never the test settings), as a deployment would."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from paas.settings.security import websocket_origin

ROOT = Path(__file__).resolve().parents[2]
SHOWN = [
    "SECURE_SSL_REDIRECT", "SECURE_REDIRECT_EXEMPT", "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
    "SECURE_REFERRER_POLICY", "SECURE_CROSS_ORIGIN_OPENER_POLICY", "CONTENT_SECURITY_POLICY",
    "CONTENT_SECURITY_POLICY_REPORT_ONLY",
]  # fmt: skip
DEPLOY_CHECK = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
PRINT_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name, None) for name in {SHOWN!r}}}))"
)


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a production gateway behind a TLS proxy; nothing of the test run's own settings."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SECURE_", "CSP_", "S3_", "DJANGO_", "PYTEST_"))
        and name not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL", "TRUST_X_FORWARDED_PROTO"}
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "paas.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50)[:50],
        "ALLOWED_HOSTS": "switchboard.example.com",
        "SITE_URL": "https://switchboard.example.com",
        "TRUST_X_FORWARDED_PROTO": "true",
        "SECURE_HSTS_PRELOAD": "true",
        "SWITCHBOARD_VAR_DIR": str(tmp_path / "var"),
        **overrides,
    }


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def settings_under(env: dict[str, str]) -> dict[str, Any]:
    result = run([sys.executable, "-c", PRINT_SETTINGS], env)
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return shown


def test_the_deploy_check_passes_on_a_production_environment(tmp_path: Path) -> None:
    result = run(DEPLOY_CHECK, production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("override", "warning"),
    [
        ({"SECURE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"SECURE_COOKIES": "false"}, "security.W012"),
    ],
)
def test_the_deploy_check_fails_when_a_protection_is_turned_off(
    tmp_path: Path, override: dict[str, str], warning: str
) -> None:
    result = run(DEPLOY_CHECK, production_env(tmp_path, **override))
    assert result.returncode != 0
    assert warning in result.stdout + result.stderr


def test_production_defaults_when_debug_is_off(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["TRUST_X_FORWARDED_PROTO"], env["SECURE_HSTS_PRELOAD"]
    shown = settings_under(env)
    assert shown["SECURE_SSL_REDIRECT"] is True
    assert shown["SECURE_REDIRECT_EXEMPT"] == [r"^healthz$", r"^readyz$", r"^metrics$", r"^internal/"]
    assert shown["SECURE_PROXY_SSL_HEADER"] is None
    assert shown["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert shown["SECURE_HSTS_PRELOAD"] is False
    assert shown["SESSION_COOKIE_SECURE"] is shown["CSRF_COOKIE_SECURE"] is True
    assert shown["SECURE_REFERRER_POLICY"] == "same-origin"
    assert shown["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin"
    directives = shown["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]
    assert directives["script-src"] == directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'", "wss://switchboard.example.com"]
    assert "report-uri" not in directives
    assert shown["CONTENT_SECURITY_POLICY_REPORT_ONLY"] is None


def test_debug_turns_https_off_for_a_laptop(tmp_path: Path) -> None:
    env = production_env(tmp_path, DEBUG="true")
    for name in ("SECRET_KEY", "SITE_URL", "TRUST_X_FORWARDED_PROTO", "SECURE_HSTS_PRELOAD"):
        del env[name]
    shown = settings_under(env)
    assert shown["SECURE_SSL_REDIRECT"] is False
    assert shown["SECURE_HSTS_SECONDS"] == 0
    assert shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert shown["SESSION_COOKIE_SECURE"] is False
    # The policy holds with DEBUG on too, so a template with inline code fails on a laptop first.
    assert shown["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["connect-src"] == ["'self'", "ws://127.0.0.1:8000"]


def test_every_setting_can_be_overridden(tmp_path: Path) -> None:
    shown = settings_under(
        production_env(
            tmp_path,
            SECURE_SSL_REDIRECT="false",
            SECURE_REDIRECT_EXEMPT=r"^healthz$,^status/",
            SECURE_HSTS_SECONDS="300",
            SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
            SECURE_COOKIES="false",
            SECURE_REFERRER_POLICY="strict-origin-when-cross-origin",
            SECURE_CROSS_ORIGIN_OPENER_POLICY="same-origin-allow-popups",
            CSP_REPORT_URI="https://reports.example.com/csp",
            CSP_REPORT_ONLY="true",
        )
    )
    assert shown["SECURE_SSL_REDIRECT"] is False
    assert shown["SECURE_REDIRECT_EXEMPT"] == [r"^healthz$", r"^status/"]
    assert shown["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert (shown["SECURE_HSTS_SECONDS"], shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"]) == (300, False)
    assert shown["SESSION_COOKIE_SECURE"] is False
    assert shown["SECURE_REFERRER_POLICY"] == "strict-origin-when-cross-origin"
    assert shown["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin-allow-popups"
    # Report-only: the policy is sent as Content-Security-Policy-Report-Only, and nothing is enforced.
    assert shown["CONTENT_SECURITY_POLICY"] is None
    reported = shown["CONTENT_SECURITY_POLICY_REPORT_ONLY"]["DIRECTIVES"]
    assert reported["report-uri"] == ["https://reports.example.com/csp"]
    assert reported["script-src"] == ["'self'"]


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"SECURE_REFERRER_POLICY": "everyone"}, "SECURE_REFERRER_POLICY='everyone'"),
        ({"SECURE_REDIRECT_EXEMPT": "^healthz$,^(internal"}, "SECURE_REDIRECT_EXEMPT='^(internal'"),
        ({"SECURE_HSTS_SECONDS": "-1"}, "SECURE_HSTS_SECONDS='-1'"),
        ({"SECURE_SSL_REDIRECT": "sometimes"}, "SECURE_SSL_REDIRECT='sometimes'"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path: Path, override: dict[str, str], named: str) -> None:
    result = run([sys.executable, "-c", "import django; django.setup()"], production_env(tmp_path, **override))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr


@pytest.mark.parametrize(
    ("site_url", "origin"),
    [
        ("https://switchboard.example.com", "wss://switchboard.example.com"),
        ("https://switchboard.example.com:8443/portal", "wss://switchboard.example.com:8443"),
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000"),
    ],
)
def test_the_websocket_origin_follows_site_url(site_url: str, origin: str) -> None:
    assert websocket_origin(site_url) == origin
