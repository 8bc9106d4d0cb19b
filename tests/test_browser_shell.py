"""The portal's shell and the API docs, as a browser sees them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_login_page_renders_styled(page: Any, live_server: Any) -> None:
    page.goto(live_server.url + "/accounts/login/")
    assert page.title().endswith("Switchboard")
    assert page.locator("input[name=login]").is_visible()
    assert page.locator("input[name=password]").is_visible()
    button = page.locator("form button[type=submit]").first
    # Tailwind's stylesheet is loaded: the submit button has the brand colour, the page the slate background.
    assert button.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(5, 150, 105)"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"
    rules = page.evaluate(
        "[...document.styleSheets].filter(s => (s.href || '').endsWith('/static/css/app.css'))"
        ".map(s => s.cssRules.length)"
    )
    assert len(rules) == 1
    assert rules[0] > 5
    assert page.evaluate("typeof window.htmx") == "object"


def test_the_layout_is_responsive(page: Any, live_server: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(live_server.url + "/accounts/login/")
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert overflow is False
    card_width = page.locator(".card").first.evaluate("el => el.getBoundingClientRect().width")
    assert card_width <= 390


@pytest.mark.parametrize(("path", "marker"), [("/api/docs/", ".swagger-ui .info"), ("/api/docs/redoc/", ".redoc-wrap")])
def test_api_docs_render_with_no_external_request(page: Any, live_server: Any, path: str, marker: str) -> None:
    live_host = urlsplit(live_server.url).netloc
    external: list[str] = []

    def record(request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in {"http", "https"} and parts.netloc != live_host:
            external.append(request.url)

    # Chromium reports a request its page's Content-Security-Policy stopped as failed with "csp": it never left.
    stopped_by_policy: list[str] = []
    page.on("request", record)

    def record_failure(request: Any) -> None:
        if request.failure == "csp":
            stopped_by_policy.append(request.url)

    page.on("requestfailed", record_failure)
    page.goto(live_server.url + path)
    page.wait_for_selector(marker, timeout=20_000)
    page.wait_for_timeout(500)
    assert "Switchboard API" in page.content()
    assert [url for url in external if url not in stopped_by_policy] == []
