"""The live event stream /ws/v1/events: the same envelopes as webhooks, in order per session, filtered by session and
type; a reconnect with ?last_event_id gets what it missed and then live events, none twice; keys are checked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from django.utils import timezone

from accounts.models import APIKey, Membership, Scope, Workspace
from accounts.services.api_keys import api_key_create, public_prefix
from paas.asgi import application
from sessions_app.models import Event, WhatsAppSession
from sessions_app.services.webhooks.endpoints import endpoint_send_test
from sessions_app.stream import EventStreamConsumer
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.webhook_helpers import endpoint_for, publish

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 5


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def key(workspace: Workspace, scopes: Sequence[str] | None = None) -> str:
    granted: list[str] = [Scope.MESSAGES_READ, Scope.SESSIONS_READ] if scopes is None else list(scopes)
    return api_key_create(workspace=workspace, name="stream", scopes=granted, created_by=None).raw_key


def communicator(raw_key: str | None, query: str = "", *, in_query: bool = False) -> WebsocketCommunicator:
    params = [query] if query else []
    headers = []
    if raw_key is not None and in_query:
        params.append(f"api_key={raw_key}")
    elif raw_key is not None:
        headers.append((b"authorization", f"Bearer {raw_key}".encode()))
    path = "/ws/v1/events" + ("?" + "&".join(params) if params else "")
    return WebsocketCommunicator(application, path, headers=headers)


async def opened(raw_key: str, query: str = "", *, in_query: bool = False) -> WebsocketCommunicator:
    socket = communicator(raw_key, query, in_query=in_query)
    connected, code = await socket.connect(timeout=WAIT)
    assert connected, code
    return socket


async def emit(session: WhatsAppSession, kind: str = "message.received", **data: Any) -> Event:
    """Publish as the gateway does, in its own committed transaction (the live group hears of it after commit)."""
    event: Event = await database_sync_to_async(publish)(session, kind, **data)
    return event


async def ids(socket: WebsocketCommunicator, count: int) -> list[str]:
    return [(await socket.receive_json_from(timeout=WAIT))["id"] for _ in range(count)]


@pytest.fixture
def sessions(workspace: Workspace) -> tuple[WhatsAppSession, WhatsAppSession]:
    one: WhatsAppSession = SessionFactory.create(workspace=workspace, name="one", phone="+15550100001")
    two: WhatsAppSession = SessionFactory.create(workspace=workspace, name="two", phone="+15550100002")
    return one, two


def test_events_arrive_as_envelopes_in_order_per_session(
    workspace: Workspace, sessions: tuple[WhatsAppSession, WhatsAppSession]
) -> None:
    one, two = sessions

    raw = key(workspace)

    async def scenario() -> None:
        socket = await opened(raw)
        published = [await emit(one if n % 3 else two, n=n) for n in range(9)]
        received = [await socket.receive_json_from(timeout=WAIT) for _ in published]
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()

        assert received == [event.envelope for event in published]
        for session in (one, two):
            mine = [e for e in received if e["session"]["id"] == str(session.pk)]
            assert [e["data"]["n"] for e in mine] == sorted(e["data"]["n"] for e in mine)

    run(scenario)


def test_the_key_may_come_in_the_query_string(workspace: Workspace, sessions: tuple[WhatsAppSession, Any]) -> None:
    raw = key(workspace)

    async def scenario() -> None:
        socket = await opened(raw, in_query=True)
        event = await emit(sessions[0])
        assert await ids(socket, 1) == [str(event.pk)]
        await socket.disconnect()

    run(scenario)


def test_a_reconnect_with_the_last_event_id_gets_the_gap_then_live_events_none_twice(
    workspace: Workspace, sessions: tuple[WhatsAppSession, WhatsAppSession]
) -> None:
    one, two = sessions
    raw = key(workspace)

    async def scenario() -> None:
        socket = await opened(raw)
        seen = [await emit(one), await emit(two)]
        assert await ids(socket, 2) == [str(e.pk) for e in seen]
        await socket.disconnect()

        missed = [await emit(one), await emit(two), await emit(one, "message.status")]
        socket = await opened(raw, f"last_event_id={seen[-1].pk}")
        assert await ids(socket, 3) == [str(e.pk) for e in missed]
        live = await emit(two)
        assert await ids(socket, 1) == [str(live.pk)]
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    run(scenario)


def test_an_event_published_while_the_gap_is_read_is_sent_once(
    workspace: Workspace, sessions: tuple[WhatsAppSession, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Published after the connection joined the live group but before the gap was read: it is in both.
    one, _ = sessions
    raw = key(workspace)
    racing: list[Event] = []
    backlog = EventStreamConsumer.__dict__["_backlog"]

    async def backlog_with_a_racing_event(self: EventStreamConsumer, last_event_id: str) -> Any:
        racing.append(await emit(one, racing=True))
        return await backlog(self, last_event_id)

    monkeypatch.setattr(EventStreamConsumer, "_backlog", backlog_with_a_racing_event)

    async def scenario() -> None:
        first = await emit(one)
        missed = await emit(one)
        socket = await opened(raw, f"last_event_id={first.pk}")
        assert await ids(socket, 2) == [str(missed.pk), str(racing[0].pk)]
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    run(scenario)


def test_the_gap_reaches_back_one_hour_at_most(workspace: Workspace, sessions: tuple[WhatsAppSession, Any]) -> None:
    one, _ = sessions
    ages = {"long ago": timedelta(hours=3), "too old": timedelta(minutes=90), "recent": timedelta(minutes=30)}

    raw = key(workspace)

    async def scenario() -> None:
        events = {name: await emit(one, name=name) for name in ages}
        for name, age in ages.items():
            await database_sync_to_async(Event.objects.filter(pk=events[name].pk).update)(
                created_at=timezone.now() - age
            )
        socket = await opened(raw, f"last_event_id={events['long ago'].pk}")
        assert await ids(socket, 1) == [str(events["recent"].pk)]
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()

    run(scenario)


def test_another_workspace_sees_nothing_of_this_one(
    workspace: Workspace, outsider: Membership, sessions: tuple[WhatsAppSession, Any]
) -> None:
    one, _ = sessions
    theirs: WhatsAppSession = SessionFactory.create(workspace=outsider.workspace)

    theirs_key = key(outsider.workspace)

    async def scenario() -> None:
        ours = await emit(one)
        # An id of another workspace is unknown here: the gap is the outsider's own last hour, empty so far.
        intruder = await opened(theirs_key, f"last_event_id={ours.pk}")
        await emit(one)
        await emit(one, "session.status")
        own = await emit(theirs)
        assert await ids(intruder, 1) == [str(own.pk)]
        assert await intruder.receive_nothing(timeout=0.3)
        await intruder.disconnect()

        by_our_session = await opened(theirs_key, f"session={one.pk}")
        await emit(one)
        assert await by_our_session.receive_nothing(timeout=0.5)
        await by_our_session.disconnect()

    run(scenario)


async def close_code(socket: Any) -> int | None:
    """The code the server closed with right after the handshake, or None when it kept the socket open. The server
    accepts before closing, so clients behind real servers see the code instead of a bare HTTP 403."""
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    if await socket.receive_nothing(timeout=0.3):
        return None
    message = await socket.receive_output(timeout=WAIT)
    assert message["type"] == "websocket.close"
    return int(message["code"])


def test_a_key_needs_messages_read_or_sessions_read_or_is_closed_with_4403(workspace: Workspace) -> None:
    others = [Scope.MESSAGES_SEND, Scope.SESSIONS_WRITE, Scope.WEBHOOKS_MANAGE, Scope.KEYS_MANAGE]
    cases = [
        (key(workspace, [Scope.MESSAGES_READ]), None),
        (key(workspace, [Scope.SESSIONS_READ]), None),
        (key(workspace, others), 4403),
        (key(workspace, []), 4403),
    ]

    async def scenario() -> None:
        for raw, expected in cases:
            socket = communicator(raw)
            assert await close_code(socket) == expected
            await socket.disconnect()

    run(scenario)


def test_a_missing_malformed_unknown_or_revoked_key_is_closed_with_4401(workspace: Workspace) -> None:
    revoked, deleted = key(workspace), key(workspace)
    APIKey.objects.filter(prefix=public_prefix(revoked)).update(revoked_at=timezone.now())
    APIKey.objects.filter(prefix=public_prefix(deleted)).delete()

    async def scenario() -> None:
        for raw in (None, "", "Bearer", "sb_live_nonsense", deleted, revoked):
            socket = communicator(raw)
            assert await close_code(socket) == 4401, raw
            await socket.disconnect()
        socket = communicator(revoked, in_query=True)
        assert await close_code(socket) == 4401

    run(scenario)


def test_events_are_filtered_by_session_and_by_type(
    workspace: Workspace, sessions: tuple[WhatsAppSession, WhatsAppSession]
) -> None:
    one, two = sessions
    raw = key(workspace)

    async def scenario() -> None:
        by_session = await opened(raw, f"session={one.pk}")
        by_type = await opened(raw, "types=message.status,session.status")
        both = await opened(raw, f"session={two.pk}&types=message.status")
        published = [
            await emit(one, "message.received"),
            await emit(two, "message.status"),
            await emit(one, "session.status"),
            await emit(two, "message.received"),
            await emit(one, "message.status"),
        ]
        e = [str(event.pk) for event in published]
        assert await ids(by_session, 3) == [e[0], e[2], e[4]]
        assert await ids(by_type, 3) == [e[1], e[2], e[4]]
        assert await ids(both, 1) == [e[1]]
        for socket in (by_session, by_type, both):
            assert await socket.receive_nothing(timeout=0.3)
            await socket.disconnect()

    run(scenario)


def test_a_replay_leaves_out_webhook_test_events_as_live_streams_do(
    workspace: Workspace, sessions: tuple[WhatsAppSession, WhatsAppSession]
) -> None:
    one, _ = sessions
    raw = key(workspace)

    async def scenario() -> None:
        seen = await emit(one)
        with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
            endpoint = await database_sync_to_async(endpoint_for)(workspace, "http://127.0.0.1:9/in")
        await database_sync_to_async(endpoint_send_test)(endpoint=endpoint)
        missed = await emit(one, "message.status")
        socket = await opened(raw, f"last_event_id={seen.pk}")
        assert await ids(socket, 1) == [str(missed.pk)]
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    run(scenario)
