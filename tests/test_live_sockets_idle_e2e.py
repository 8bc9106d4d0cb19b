"""Live sockets on the production channel layer: through the real gateway server (uvicorn) on Redis, the event stream
and the portal's live channel stay open through a minute of silence, then carry events and answer pings.

redis-py 8's default 5 s socket read timeout fired before channels_redis' 5 s blocking read returned, and every idle
WebSocket was dropped after about 5 s: a silence of a few seconds found it, a minute shows the sockets really hold.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from django.conf import settings
from django.test import Client, override_settings

from accounts.models import Membership, Role, Scope
from accounts.services.api_keys import api_key_create
from accounts.tests.factories import MembershipFactory
from tests.fixtures.platform import Platform

pytestmark = pytest.mark.e2e
SILENCE = 65.0


@pytest.mark.timeout(240)
def test_idle_stream_and_portal_sockets_stay_open_on_redis(platform: Platform) -> None:
    if not settings.REDIS_URL:
        pytest.skip("this test is about the Redis channel layer")
    raw = api_key_create(workspace=platform.workspace, name="idle", scopes=[Scope.MESSAGES_READ, Scope.SESSIONS_READ],
                         created_by=None).raw_key  # fmt: skip
    member: Membership = MembershipFactory.create(workspace=platform.workspace, role=Role.OWNER)
    browser = Client()
    with override_settings(SECRET_KEY=platform.env["SECRET_KEY"]):  # the gateway's: it signs and checks the session
        browser.force_login(member.user)
    base = platform.gateway.url.replace("http://", "ws://")
    portal_headers = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}", "Origin": platform.gateway.url}

    async def scenario() -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(base + "/ws/v1/events", headers={"Authorization": f"Bearer {raw}"}) as stream,
            http.ws_connect(base + "/ws/v1/portal", headers=portal_headers) as portal,
        ):
            frames: dict[str, list[dict[str, Any]]] = {"stream": [], "portal": []}
            readers = [asyncio.create_task(read(socket, frames[name])) for name, socket in
                       (("stream", stream), ("portal", portal))]  # fmt: skip
            # A minute and more in which nothing is sent either way but the protocol's own pings (answered by aiohttp).
            await asyncio.sleep(SILENCE)
            assert not stream.closed
            assert not portal.closed
            assert frames == {"stream": [], "portal": []}

            created = await asyncio.to_thread(platform.api.post, "/sessions", json={"name": "after the silence"})
            assert created.status_code == 201, created.text
            session_id = created.json()["id"]
            await arrival(frames["stream"], lambda m: (m.get("session") or {}).get("id") == session_id)
            await arrival(frames["portal"], lambda m: m.get("type") == "session.update")
            for name, socket in (("stream", stream), ("portal", portal)):
                await socket.send_str(json.dumps({"type": "ping"}))
                await arrival(frames[name], lambda m: m.get("type") == "pong")
            for reader in readers:
                reader.cancel()

    asyncio.run(scenario())
    assert "TimeoutError" not in platform.gateway.log()


async def read(socket: aiohttp.ClientWebSocketResponse, into: list[dict[str, Any]]) -> None:
    async for message in socket:
        if message.type == aiohttp.WSMsgType.TEXT:
            into.append(json.loads(message.data))


async def arrival(frames: list[dict[str, Any]], wanted: Callable[[dict[str, Any]], bool], within: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not any(wanted(frame) for frame in frames):
        assert asyncio.get_running_loop().time() < deadline, frames
        await asyncio.sleep(0.05)
