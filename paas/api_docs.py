"""The API reference: Swagger UI at /api/docs/ and Redoc at /api/docs/redoc/, from drf-spectacular-sidecar's files.

Both run under the portal's Content-Security-Policy (paas/settings/security.py). Swagger UI's init script is served as a
file (/api/docs/?script, drf-spectacular's split view) instead of inline; what each UI needs beyond the policy is added
to its own page only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

# Directives added to the portal's policy, per page.
SWAGGER_UI_POLICY: dict[str, list[str]] = {}
# Redoc styles itself through styled-components, which inserts <style> elements as it renders, and runs its search
# index in a Web Worker made from a blob: URL. Scripts stay files of our own. (Its sidebar's "API docs by Redocly" logo
# comes from cdn.redoc.ly: the policy blocks it on purpose, and Redoc leaves it out.)
REDOC_POLICY: dict[str, list[str]] = {"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]}


def _with_policy(view: Callable[..., Any], extra: dict[str, list[str]]) -> Callable[..., Any]:
    if not extra:
        return view
    # Both, so the additions hold in report-only mode (CSP_REPORT_ONLY) as well.
    return csp_update(extra)(csp_update(extra, REPORT_ONLY=True)(view))


def swagger_ui() -> Callable[..., Any]:
    return _with_policy(SpectacularSwaggerSplitView.as_view(url_name="api-schema"), SWAGGER_UI_POLICY)


def redoc() -> Callable[..., Any]:
    return _with_policy(SpectacularRedocView.as_view(url_name="api-schema"), REDOC_POLICY)
