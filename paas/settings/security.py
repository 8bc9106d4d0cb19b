"""HTTPS behind a proxy, HSTS, cookies, browser isolation headers and the Content-Security-Policy (django-csp).

With DEBUG off the defaults are production's: plain-HTTP requests are redirected to HTTPS (except the probes, /metrics
and the worker API, which callers inside the cluster reach over plain HTTP), HSTS is sent for a year and cookies are
HTTPS-only. docs/operations.md explains each variable.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from csp.constants import NONE, SELF

from paas.env import bad_value, env_bool, env_choice, env_int, env_list, env_str
from paas.settings.base import DEBUG, SITE_URL

# A proxy that terminates TLS forwards plain HTTP: trust its X-Forwarded-Proto, or every request looks insecure (and
# SECURE_SSL_REDIRECT would loop). Only behind a proxy that sets the header on every request it forwards.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Paths (regular expressions, without the leading slash) answered over plain HTTP as well: kubelet probes, Prometheus
# and worker nodes talk to the gateway inside the cluster. A redirect would not protect their tokens anyway: they are
# sent before the answer comes.
SECURE_REDIRECT_EXEMPT = env_list("SECURE_REDIRECT_EXEMPT", [r"^healthz$", r"^readyz$", r"^metrics$", r"^internal/"])
for _pattern in SECURE_REDIRECT_EXEMPT:
    try:
        re.compile(_pattern)
    except re.error as _error:
        raise bad_value("SECURE_REDIRECT_EXEMPT", _pattern, f"regular expressions ({_error})") from None

# Browsers remember to use HTTPS only; Django sends the header on HTTPS responses only.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
# Preloading is hard to undo and needs the apex domain submitted to hstspreload.org: the operator's decision.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

SECURE_REFERRER_POLICY = env_choice(
    "SECURE_REFERRER_POLICY",
    "same-origin",
    (
        "no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin", "same-origin",
        "strict-origin", "strict-origin-when-cross-origin", "unsafe-url",
    ),
)  # fmt: skip
SECURE_CROSS_ORIGIN_OPENER_POLICY = env_choice(
    "SECURE_CROSS_ORIGIN_OPENER_POLICY", "same-origin", ("same-origin", "same-origin-allow-popups", "unsafe-none")
)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"


def websocket_origin(site_url: str) -> str:
    """The WebSocket origin of the portal: 'self' covers it only in Chrome 71+ and Safari 16+, so it is named too."""
    parts = urlsplit(site_url)
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"


# Every script and stylesheet is a file under /static/ (htmx is vendored, its indicator styles are off: base.html), so
# no page needs inline code. The API docs add what Swagger UI and Redoc need (paas/docs.py).
_csp_directives: dict[str, list[str]] = {
    "default-src": [SELF],
    "script-src": [SELF],
    "style-src": [SELF],
    # allauth shows the TOTP set-up QR code as a data: URI; Swagger UI's stylesheet draws icons with them.
    "img-src": [SELF, "data:"],
    "font-src": [SELF],
    "connect-src": [SELF, websocket_origin(SITE_URL)],
    "object-src": [NONE],
    "base-uri": [NONE],
    "form-action": [SELF],
    "frame-ancestors": [NONE],
}
if env_str("CSP_REPORT_URI", ""):
    _csp_directives["report-uri"] = [env_str("CSP_REPORT_URI", "")]
# Report-only: browsers report what the policy would block and block nothing (to try a changed policy in production).
if env_bool("CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": _csp_directives}
else:
    CONTENT_SECURITY_POLICY = {"DIRECTIVES": _csp_directives}
