"""Outbound HTTP to customer-supplied URLs without server-side request forgery.

The host is resolved once, every address is checked against the ranges we never call (loopback, private, link-local
including 169.254.169.254, CGNAT, unique-local, multicast, reserved, IPv4-mapped and the like), and the request goes
to that checked address (TLS still verifies the certificate for the host name), so DNS cannot change its answer
between the check and the connection. Redirects are not followed. ``allow_private`` (a setting, for development and
tests) lifts the range check, never the scheme check.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class ForbiddenTarget(Exception):
    """The URL may not be called: ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FetchError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return False  # an IPv4 address in IPv6 clothing: refuse rather than reason about it
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return False
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def resolve(url: str, *, allow_private: bool = False) -> Target:
    try:
        parts = urlsplit(url)
        given_port = parts.port  # a port over 65535 (which Django's URLValidator lets through) raises here
    except ValueError:
        raise ForbiddenTarget("url_invalid", "The URL's host or port cannot be read.") from None
    if parts.scheme not in {"http", "https"}:
        raise ForbiddenTarget("url_scheme_forbidden", "Only http and https URLs are allowed.")
    if not parts.hostname:
        raise ForbiddenTarget("url_invalid", "The URL has no host.")
    if parts.username or parts.password:
        raise ForbiddenTarget("url_invalid", "URLs with credentials are not allowed.")
    if given_port == 0:  # no server listens on port 0, and 0 must not fall back to the default port
        raise ForbiddenTarget("url_invalid", "The URL's port cannot be 0.")
    port = given_port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ForbiddenTarget("url_unresolvable", f"The host {parts.hostname} does not resolve.") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise ForbiddenTarget(
                    "url_forbidden_address", f"{parts.hostname} resolves to {address}, which is not a public address."
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, str(addresses[0]))


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes


def request(
    method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float,
    max_bytes: int, allow_private: bool = False, truncate: bool = False,
) -> Fetched:  # fmt: skip
    """One request to the checked, pinned address. A body over ``max_bytes`` is a FetchError, or with ``truncate``
    is cut there (webhook responses: only their first bytes are kept)."""
    target = resolve(url, allow_private=allow_private)
    kwargs: dict[str, object] = {"timeout": urllib3.Timeout(connect=min(timeout, 10), read=timeout), "retries": False}
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            **kwargs,  # type: ignore[arg-type]
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **kwargs)  # type: ignore[arg-type]
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    started = time.monotonic()
    try:
        response = pool.urlopen(
            method, target.path, body=body, headers={"Host": host_header, **(headers or {})},
            redirect=False, preload_content=False,
        )  # fmt: skip
        declared = response.headers.get("Content-Length")
        if not truncate and declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError("too_large", f"The response is {int(declared)} bytes; the limit is {max_bytes}.")
        chunks, size = [], 0
        while True:
            # ``timeout`` bounds the whole answer: read1 returns whatever has arrived, and the socket may wait only for
            # what is left, so a server trickling a byte at a time cannot hold the caller (stream() waits for 64 KiB).
            remaining = timeout - (time.monotonic() - started)
            if remaining <= 0:
                raise FetchError("timeout", f"The download took longer than {timeout:.0f} s.")
            sock = getattr(response.connection, "sock", None)
            if sock is not None:
                sock.settimeout(remaining)
            chunk = response.read1(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                if truncate:
                    chunks.append(chunk[: max_bytes - (size - len(chunk))])
                    break
                raise FetchError("too_large", f"The response is larger than the limit of {max_bytes} bytes.")
            chunks.append(chunk)
        return Fetched(response.status, {k.lower(): v for k, v in response.headers.items()}, b"".join(chunks))
    except urllib3.exceptions.NewConnectionError as error:
        # A subclass of ConnectTimeoutError in urllib3 2, though a refused connection is no timeout.
        raise FetchError("unreachable", f"Could not connect: {error}") from None
    except urllib3.exceptions.TimeoutError:
        raise FetchError("timeout", f"No answer within {timeout:.0f} s.") from None
    except urllib3.exceptions.HTTPError as error:
        raise FetchError("unreachable", f"Could not connect: {error}") from None
    finally:
        pool.close()
