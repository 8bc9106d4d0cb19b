"""The live stream's refusals as a client sees them through the real gateway server (uvicorn), not in-process."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from accounts.models import Scope
from accounts.services.api_keys import api_key_create
from tests.fixtures.platform import Platform

pytestmark = pytest.mark.e2e


async def close_code(url: str, headers: dict[str, str]) -> int | None:
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=headers) as socket:
        message = await socket.receive(timeout=10)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
        return socket.close_code


def test_refused_keys_are_closed_with_their_codes_not_a_bare_403(platform: Platform) -> None:
    url = platform.gateway.url.replace("http://", "ws://") + "/ws/v1/events"
    unscoped = api_key_create(workspace=platform.workspace, name="no-read", scopes=[Scope.MESSAGES_SEND],
                              created_by=None).raw_key  # fmt: skip

    assert asyncio.run(close_code(url, {"Authorization": "Bearer sb_live_not-a-real-key"})) == 4401
    assert asyncio.run(close_code(url, {"Authorization": f"Bearer {unscoped}"})) == 4403
