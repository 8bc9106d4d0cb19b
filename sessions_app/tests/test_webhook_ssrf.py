"""Webhook URLs never reach private networks: every refused range, and names resolving into one, are refused when the
endpoint is saved (400 with a stable code) and again at each attempt, when DNS may answer differently than it did at
save; a refused attempt is logged with its error and nothing is sent."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3.util.connection
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Scope, Workspace
from sessions_app.models import Delivery, DeliveryStatus, WebhookEndpoint, WhatsAppSession
from sessions_app.tasks import deliver_webhook
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.webhook_helpers import endpoint_for, only_delivery, publish, receiver

pytestmark = pytest.mark.django_db
NAME = "hooks.customer.example"
PUBLIC = "93.184.215.14"
PRIVATE = [
    pytest.param("127.0.0.1", id="loopback"),
    pytest.param("127.8.9.10", id="loopback-range"),
    pytest.param("::1", id="loopback-v6"),
    pytest.param("10.1.2.3", id="rfc1918-10"),
    pytest.param("172.16.5.4", id="rfc1918-172"),
    pytest.param("192.168.1.20", id="rfc1918-192"),
    pytest.param("169.254.169.254", id="link-local-metadata"),
    pytest.param("169.254.10.1", id="link-local"),
    pytest.param("fe80::1", id="link-local-v6"),
    pytest.param("100.64.0.1", id="cgnat-low"),
    pytest.param("100.127.255.254", id="cgnat-high"),
    pytest.param("fc00::1", id="unique-local-fc"),
    pytest.param("fd12:3456::1", id="unique-local-fd"),
    pytest.param("::ffff:127.0.0.1", id="v4-mapped-loopback"),
    pytest.param("::ffff:10.0.0.1", id="v4-mapped-private"),
]


@pytest.fixture(autouse=True)
def _private_targets_refused() -> Iterator[None]:
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=False, WEBHOOK_RETRY_SCHEDULE=[0, 60]):
        yield


@pytest.fixture
def client(workspace: Workspace, api_client_for: Callable[..., Any]) -> APIClient:
    return api_client_for(workspace, [Scope.WEBHOOKS_MANAGE]).client


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every address urllib3 tries to connect to; none is reached (a public one would leave this machine)."""
    tried: list[tuple[Any, ...]] = []

    def refuse(address: tuple[Any, ...], *args: Any, **kwargs: Any) -> socket.socket:
        tried.append(address)
        raise ConnectionRefusedError(f"test: no connections to {address}")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    return tried


class DNS:
    """Answers for NAME (and only NAME), changeable mid-test; counts the look-ups."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: list[str] = [PUBLIC]
        self.lookups = 0
        real = socket.getaddrinfo

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
            if host != NAME:
                return real(host, port, *args, **kwargs)
            self.lookups += 1
            return [self._info(address, port) for address in self.answers]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    @staticmethod
    def _info(address: str, port: Any) -> tuple[Any, ...]:
        if ipaddress.ip_address(address).version == 6:
            return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
        return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> DNS:
    return DNS(monkeypatch)


def literal(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def refused_at_save(client: APIClient, url: str) -> None:
    response = client.post("/api/v1/webhooks", {"url": url}, format="json")
    assert response.status_code == 400, (url, response.content)
    error = response.json()["error"]
    assert error["code"] == "url_forbidden_address"
    assert "not a public address" in error["details"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("address", PRIVATE)
def test_a_private_address_is_refused_at_save(client: APIClient, address: str) -> None:
    refused_at_save(client, f"http://{literal(address)}:8080/hook")


@pytest.mark.parametrize("address", PRIVATE)
def test_a_name_resolving_to_a_private_address_is_refused_at_save(client: APIClient, dns: DNS, address: str) -> None:
    dns.answers = [address]

    refused_at_save(client, f"https://{NAME}/hook")


def test_localhost_is_refused_at_save(client: APIClient) -> None:
    refused_at_save(client, "http://localhost:8000/hook")


def test_a_name_with_one_private_address_among_public_ones_is_refused(client: APIClient, dns: DNS) -> None:
    dns.answers = [PUBLIC, "10.0.0.5"]

    refused_at_save(client, f"https://{NAME}/hook")


def test_a_public_name_is_accepted(client: APIClient, dns: DNS) -> None:
    response = client.post("/api/v1/webhooks", {"url": f"https://{NAME}/hook"}, format="json")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("address", PRIVATE)
def test_a_patch_to_a_private_address_is_refused(
    client: APIClient, workspace: Workspace, dns: DNS, address: str
) -> None:
    endpoint = endpoint_for(workspace, f"https://{NAME}/hook")

    response = client.patch(f"/api/v1/webhooks/{endpoint.pk}", {"url": f"http://{literal(address)}/x"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "url_forbidden_address"
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == f"https://{NAME}/hook"


@pytest.fixture
def session(workspace: Workspace) -> WhatsAppSession:
    session: WhatsAppSession = SessionFactory.create(workspace=workspace)
    return session


@pytest.mark.parametrize("address", PRIVATE)
def test_a_name_that_moves_to_a_private_address_after_save_is_refused_at_send(
    workspace: Workspace, session: WhatsAppSession, dns: DNS, connections: list[tuple[Any, ...]], address: str
) -> None:
    endpoint = endpoint_for(workspace, f"http://{NAME}:8080/hook")  # public at save
    delivery = only_delivery(publish(session))
    dns.answers = [address]

    deliver_webhook(str(delivery.pk))

    assert connections == []
    after = Delivery.objects.get(pk=delivery.pk)
    assert (after.status, after.attempt_count, after.last_status_code) == (DeliveryStatus.PENDING, 1, None)
    attempt = after.attempts.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("url_forbidden_address")
    assert str(ipaddress.ip_address(address)) in attempt.error
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).enabled


def test_nothing_reaches_a_loopback_receiver_the_name_moved_to(
    workspace: Workspace, session: WhatsAppSession, dns: DNS
) -> None:
    with receiver() as hook:
        endpoint_for(workspace, f"http://{NAME}:{hook.port}/hook")
        delivery = only_delivery(publish(session))
        dns.answers = ["127.0.0.1"]

        deliver_webhook(str(delivery.pk))

        assert hook.requests == []
    assert Delivery.objects.get(pk=delivery.pk).attempts.get().error.startswith("url_forbidden_address")


def test_the_attempt_connects_to_the_address_it_checked(
    workspace: Workspace, session: WhatsAppSession, dns: DNS, connections: list[tuple[Any, ...]]
) -> None:
    # Were the name looked up again to connect, a second answer could point somewhere else (DNS rebinding).
    endpoint_for(workspace, f"http://{NAME}:8080/hook")
    delivery = only_delivery(publish(session))
    dns.lookups = 0

    deliver_webhook(str(delivery.pk))

    assert dns.lookups == 1
    assert [address[:2] for address in connections] == [(PUBLIC, 8080)]
    assert Delivery.objects.get(pk=delivery.pk).attempts.get().error.startswith("unreachable")
