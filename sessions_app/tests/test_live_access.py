"""Live sockets end with the access that opened them: a revoked or expired key's event streams, a removed member's
portal channel, a deleted workspace's sockets; and both answer a client's ping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import APIKey, Membership, Scope, Workspace
from accounts.services.api_keys import api_key_create, api_key_revoke, public_prefix
from accounts.services.workspaces import membership_remove, workspace_delete
from paas.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 5
READ: list[str] = [Scope.MESSAGES_READ, Scope.SESSIONS_READ]


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def stream(raw_key: str) -> WebsocketCommunicator:
    headers = [(b"authorization", f"Bearer {raw_key}".encode())]
    return WebsocketCommunicator(application, "/ws/v1/events", headers=headers)


def signed_in(membership: Membership) -> list[tuple[bytes, bytes]]:
    """The headers of a browser signed in as the member, on a portal page of ours (called outside the event loop)."""
    client = Client()
    client.force_login(membership.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return [(b"cookie", cookie.encode()), (b"origin", b"http://testserver"), (b"host", b"testserver")]


def portal(headers: list[tuple[bytes, bytes]]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/v1/portal", headers=headers)


async def opened(socket: WebsocketCommunicator) -> WebsocketCommunicator:
    connected, code = await socket.connect(timeout=WAIT)
    assert connected, code
    assert await socket.receive_nothing(timeout=0.2)  # let in, and kept open
    return socket


async def closed_with(socket: WebsocketCommunicator, timeout: float = WAIT) -> tuple[int, str]:
    message = await socket.receive_output(timeout=timeout)
    assert message["type"] == "websocket.close", message
    return int(message["code"]), str(message.get("reason", ""))


def test_revoking_a_key_through_the_api_closes_its_streams_at_once(workspace: Workspace) -> None:
    manager = api_key_create(workspace=workspace, name="admin", scopes=list(Scope.values), created_by=None)
    reader = api_key_create(workspace=workspace, name="reader", scopes=READ, created_by=None)
    other = api_key_create(workspace=workspace, name="other", scopes=READ, created_by=None).raw_key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {manager.raw_key}")

    async def scenario() -> None:
        first, second, untouched = [await opened(stream(raw)) for raw in (reader.raw_key, reader.raw_key, other)]
        response = await database_sync_to_async(api.delete)(f"/api/v1/api-keys/{reader.api_key.pk}")
        assert response.status_code == 200
        assert await closed_with(first) == (4401, "api_key_revoked")
        assert await closed_with(second) == (4401, "api_key_revoked")
        assert await untouched.receive_nothing(timeout=0.5)
        await untouched.disconnect()

    run(scenario)


def test_a_key_that_expires_closes_its_stream_when_it_expires(workspace: Workspace) -> None:
    expires_at = timezone.now() + timedelta(seconds=1.5)
    raw = api_key_create(workspace=workspace, name="short", scopes=READ, created_by=None, expires_at=expires_at).raw_key

    async def scenario() -> None:
        socket = await opened(stream(raw))
        assert await closed_with(socket) == (4401, "api_key_expired")
        assert timezone.now() >= expires_at

    run(scenario)


def test_a_revocation_whose_message_was_lost_closes_the_stream_at_the_next_recheck(
    workspace: Workspace, settings: Any
) -> None:
    settings.LIVE_ACCESS_RECHECK_SECONDS = 1
    raw = api_key_create(workspace=workspace, name="reader", scopes=READ, created_by=None).raw_key

    async def scenario() -> None:
        socket = await opened(stream(raw))
        # As the admin or a script would: the row changes, and no message reaches the socket.
        await database_sync_to_async(APIKey.objects.filter(prefix=public_prefix(raw)).update)(revoked_at=timezone.now())
        assert await closed_with(socket, timeout=3) == (4401, "api_key_revoked")

    run(scenario)


def test_removing_a_member_closes_their_portal_sockets_and_no_one_elses(owner: Membership, member: Membership) -> None:
    browsers = signed_in(member), signed_in(owner)

    async def scenario() -> None:
        removed, staying = await opened(portal(browsers[0])), await opened(portal(browsers[1]))
        await database_sync_to_async(membership_remove)(membership=member, actor=owner)
        assert await closed_with(removed) == (4403, "membership_removed")
        assert await staying.receive_nothing(timeout=0.5)
        await staying.disconnect()

    run(scenario)


def test_deleting_a_workspace_closes_its_members_portals_and_its_keys_streams(
    workspace: Workspace, owner: Membership, member: Membership
) -> None:
    raw = api_key_create(workspace=workspace, name="reader", scopes=READ, created_by=None).raw_key
    browsers = signed_in(member), signed_in(owner)

    async def scenario() -> None:
        sockets = [await opened(portal(browsers[0])), await opened(portal(browsers[1])), await opened(stream(raw))]
        await database_sync_to_async(workspace_delete)(workspace=workspace, actor=owner)
        for socket in sockets:
            assert await closed_with(socket) == (4403, "workspace_deleted")

    run(scenario)


def test_a_removed_member_is_closed_by_the_recheck_when_the_message_was_lost(
    owner: Membership, member: Membership, settings: Any
) -> None:
    settings.LIVE_ACCESS_RECHECK_SECONDS = 1
    browser = signed_in(member)

    async def scenario() -> None:
        socket = await opened(portal(browser))
        await database_sync_to_async(Membership.objects.filter(pk=member.pk).delete)()
        assert await closed_with(socket, timeout=3) == (4403, "membership_removed")

    run(scenario)


def test_both_sockets_answer_a_ping_with_a_pong(workspace: Workspace, owner: Membership) -> None:
    raw = api_key_create(workspace=workspace, name="reader", scopes=READ, created_by=None).raw_key
    browser = signed_in(owner)

    async def scenario() -> None:
        for socket in (await opened(stream(raw)), await opened(portal(browser))):
            await socket.send_json_to({"type": "ping"})
            assert await socket.receive_json_from(timeout=WAIT) == {"type": "pong"}
            await socket.disconnect()

    run(scenario)


def test_a_revoke_service_call_without_a_transaction_closes_the_stream_too(workspace: Workspace) -> None:
    issued = api_key_create(workspace=workspace, name="reader", scopes=READ, created_by=None)

    async def scenario() -> None:
        socket = await opened(stream(issued.raw_key))
        await database_sync_to_async(api_key_revoke)(api_key=issued.api_key)  # as the portal's revoke button does
        assert await closed_with(socket) == (4401, "api_key_revoked")

    run(scenario)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param({"text_data": "hello"}, 1007, id="text-that-is-not-json"),
        pytest.param({"text_data": "[" * 100_000 + "]" * 100_000}, 1007, id="json-too-deep-to-parse"),
        pytest.param({"bytes_data": b"\x00"}, 1003, id="a-binary-frame"),
    ],
)
def test_a_bad_frame_closes_the_socket_with_its_code(
    workspace: Workspace, owner: Membership, frame: dict[str, Any], code: int
) -> None:
    raw = api_key_create(workspace=workspace, name="reader", scopes=READ, created_by=None).raw_key
    browser = signed_in(owner)

    async def scenario() -> None:
        for socket in (await opened(stream(raw)), await opened(portal(browser))):
            await socket.send_to(**frame)
            assert (await closed_with(socket))[0] == code

    run(scenario)


def test_a_socket_to_an_unknown_path_is_refused() -> None:
    async def scenario() -> None:
        for path in ("/ws/v1/nope", "/", "/api/v1/sessions"):
            socket = WebsocketCommunicator(application, path)
            connected, _ = await socket.connect(timeout=WAIT)
            assert not connected, path
            await socket.disconnect()

    run(scenario)
