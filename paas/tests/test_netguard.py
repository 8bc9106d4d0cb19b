"""netguard: customer-supplied URLs are called only at public addresses, over http(s), at the address that was
checked, without following redirects, and never read past the size limit."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from paas.tests.local_http import LocalHTTPServer, Route
from worker_node.contract import netguard

REFUSED = [
    pytest.param("127.0.0.1", id="loopback"),
    pytest.param("127.255.255.254", id="loopback-range"),
    pytest.param("::1", id="loopback-v6"),
    pytest.param("10.0.0.1", id="rfc1918-10"),
    pytest.param("172.16.0.1", id="rfc1918-172.16"),
    pytest.param("172.31.255.254", id="rfc1918-172.31"),
    pytest.param("192.168.1.1", id="rfc1918-192.168"),
    pytest.param("169.254.169.254", id="link-local-metadata"),
    pytest.param("169.254.0.1", id="link-local"),
    pytest.param("fe80::1", id="link-local-v6"),
    pytest.param("100.64.0.1", id="cgnat-low"),
    pytest.param("100.127.255.254", id="cgnat-high"),
    pytest.param("fc00::1", id="unique-local-fc"),
    pytest.param("fd12:3456::1", id="unique-local-fd"),
    pytest.param("::ffff:127.0.0.1", id="v4-mapped-loopback"),
    pytest.param("::ffff:8.8.8.8", id="v4-mapped-public"),
    pytest.param("2002:7f00:1::1", id="6to4-of-loopback"),
    pytest.param("64:ff9b::7f00:1", id="nat64-of-loopback"),
    pytest.param("224.0.0.1", id="multicast"),
    pytest.param("239.255.255.250", id="multicast-ssdp"),
    pytest.param("ff02::1", id="multicast-v6"),
    pytest.param("ff0e::1", id="multicast-v6-global"),
    pytest.param("0.0.0.0", id="unspecified"),  # noqa: S104  (an address under test, not a bind)
    pytest.param("::", id="unspecified-v6"),
    pytest.param("240.0.0.1", id="reserved"),
    pytest.param("255.255.255.255", id="broadcast"),
    pytest.param("192.0.2.1", id="documentation"),
    pytest.param("198.18.0.1", id="benchmarking"),
    pytest.param("2001:db8::1", id="documentation-v6"),
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "100.63.255.255", "100.128.0.1", "2606:4700:4700::1111"]


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


def fetch(url: str, *, max_bytes: int = 1024 * 1024, allow_private: bool = True) -> netguard.Fetched:
    return netguard.request("GET", url, timeout=5, max_bytes=max_bytes, allow_private=allow_private)


@pytest.mark.parametrize("address", REFUSED)
def test_addresses_we_never_call_are_not_public(address: str) -> None:
    assert netguard.is_public(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address: str) -> None:
    assert netguard.is_public(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize(
    "url", ["http://localhost/x", "http://127.0.0.1:8000/x", "https://[::1]/x", "http://169.254.169.254/latest"]
)
def test_a_url_resolving_to_a_private_address_is_forbidden(url: str) -> None:
    with pytest.raises(netguard.ForbiddenTarget) as refused:
        netguard.resolve(url)

    assert refused.value.code == "url_forbidden_address"


def test_allow_private_lifts_the_address_check() -> None:
    target = netguard.resolve("http://localhost:8123/a/b?c=d", allow_private=True)

    assert ipaddress.ip_address(target.address).is_loopback
    assert (target.scheme, target.host, target.port, target.path) == ("http", "localhost", 8123, "/a/b?c=d")


def test_a_host_with_any_private_address_is_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    # A name answering a public and a private address must not pass because the first one is public.
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 80)) for ip in ("8.8.8.8", "10.0.0.5")]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)

    with pytest.raises(netguard.ForbiddenTarget) as refused:
        netguard.resolve("http://mixed.example.test/x")

    assert refused.value.code == "url_forbidden_address"


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)", "//x.com/"]
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_schemes_other_than_http_and_https_are_refused(url: str, allow_private: bool) -> None:
    with pytest.raises(netguard.ForbiddenTarget) as refused:
        netguard.resolve(url, allow_private=allow_private)

    assert refused.value.code == "url_scheme_forbidden"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://user:secret@example.com/x", "url_invalid"),
        ("http:///x", "url_invalid"),
        ("http://93.184.216.34:0/hook", "url_invalid"),  # not port 80
        ("https://example.com:00/hook", "url_invalid"),
        ("http://no-such-host.invalid/x", "url_unresolvable"),
    ],
)
def test_urls_with_credentials_without_a_host_or_that_do_not_resolve_are_refused(url: str, code: str) -> None:
    with pytest.raises(netguard.ForbiddenTarget) as refused:
        netguard.resolve(url, allow_private=True)

    assert refused.value.code == code


def test_a_request_to_a_private_address_never_reaches_it(server: LocalHTTPServer) -> None:
    server.routes["/x"] = Route(body=b"secret")

    with pytest.raises(netguard.ForbiddenTarget):
        fetch(server.url("/x"), allow_private=False)

    assert server.requests == []


def test_a_request_returns_status_headers_and_body(server: LocalHTTPServer) -> None:
    server.routes["/hello.txt"] = Route(body=b"hello world", headers={"Content-Type": "text/plain", "X-Thing": "1"})

    fetched = fetch(server.url("/hello.txt"))

    assert (fetched.status, fetched.body) == (200, b"hello world")
    assert fetched.headers["content-type"] == "text/plain"
    assert fetched.headers["x-thing"] == "1"


def test_a_body_of_exactly_the_limit_is_read(server: LocalHTTPServer) -> None:
    server.routes["/exact"] = Route(body=b"x" * 5000)

    assert fetch(server.url("/exact"), max_bytes=5000).body == b"x" * 5000


def test_a_declared_length_over_the_limit_is_refused_before_reading(server: LocalHTTPServer) -> None:
    server.routes["/big"] = Route(body=b"x" * 100, content_length=10_000_000)

    with pytest.raises(netguard.FetchError) as failed:
        fetch(server.url("/big"), max_bytes=5000)

    assert failed.value.code == "too_large"


@pytest.mark.parametrize("size", [5001, 200_000])
def test_a_chunked_body_over_the_limit_is_cut(server: LocalHTTPServer, size: int) -> None:
    server.routes["/stream"] = Route(body=b"x" * size, chunked=True)

    with pytest.raises(netguard.FetchError) as failed:
        fetch(server.url("/stream"), max_bytes=5000)

    assert failed.value.code == "too_large"


def test_a_chunked_body_within_the_limit_is_read_whole(server: LocalHTTPServer) -> None:
    server.routes["/stream"] = Route(body=bytes(range(256)) * 40, chunked=True)

    assert fetch(server.url("/stream"), max_bytes=20_000).body == bytes(range(256)) * 40


def test_a_redirect_is_returned_as_it_is_and_not_followed(server: LocalHTTPServer) -> None:
    server.routes["/moved"] = Route(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data"})

    fetched = fetch(server.url("/moved"))

    assert fetched.status == 302
    assert fetched.headers["location"] == "http://169.254.169.254/latest/meta-data"
    assert [seen.path for seen in server.requests] == ["/moved"]


def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused

        with pytest.raises(netguard.FetchError) as failed:
            fetch(f"http://127.0.0.1:{port}/x")

    assert failed.value.code == "unreachable"


def test_the_request_goes_to_the_address_that_was_checked(
    server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo
    lookups: list[str] = []

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "media.example.test":
            lookups.append(host)
            # The first answer is the checked one; a second lookup (DNS rebinding) would get nowhere.
            ip = "127.0.0.1" if len(lookups) == 1 else "192.0.2.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, args[0] if args else 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    server.routes["/pic.png"] = Route(body=b"the picture")

    fetched = fetch(f"http://media.example.test:{server.port}/pic.png")

    assert fetched.body == b"the picture"
    assert lookups == ["media.example.test"]
    assert [(seen.path, seen.host) for seen in server.requests] == [("/pic.png", f"media.example.test:{server.port}")]


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # the kernel accepts the connection; nobody ever answers

        with pytest.raises(netguard.FetchError) as failed:
            netguard.request("GET", f"http://127.0.0.1:{sock.getsockname()[1]}/x", timeout=0.3, max_bytes=100,
                             allow_private=True)  # fmt: skip

    assert failed.value.code == "timeout"
