"""An ingest batch publishes its live updates in one trip after the commit, in order, and reads the workspace's
webhook endpoints once; a change whose savepoint rolled back publishes nothing."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from sessions_app.models import Delivery, Event, Message, SessionEvent, WhatsAppSession
from sessions_app.services.customer_events import fanout
from sessions_app.services.customer_events.fanout import batch_memo, group_send, publication_batch
from sessions_app.services.customer_events.publish import events_group
from sessions_app.services.sessions.state import group_send_after_commit, workspace_group
from sessions_app.services.worker_events.ingest import ingest_events
from sessions_app.tests.helpers import event
from sessions_app.tests.message_helpers import connected_session, received
from sessions_app.tests.webhook_helpers import endpoint_for
from workers_app.models import Worker

GROUP = "fanout-probe"


def _listen(group: str) -> tuple[Any, str]:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return layer, channel


def _received(layer: Any, channel: str, count: int) -> list[dict[str, Any]]:
    async def receive_all() -> list[dict[str, Any]]:
        return [await layer.receive(channel) for _ in range(count)]

    return async_to_sync(receive_all)()


def test_a_batch_sends_nothing_until_it_ends_then_everything_in_order() -> None:
    with patch.object(fanout, "_send", wraps=fanout._send) as send:
        layer, channel = _listen(GROUP)
        with publication_batch():
            for n in range(3):
                group_send(GROUP, {"type": "probe", "n": n})
            assert not send.called
        send.assert_called_once()
        assert [message["n"] for message in _received(layer, channel, 3)] == [0, 1, 2]


def test_without_a_batch_each_publication_leaves_at_once() -> None:
    with patch.object(fanout, "_send") as send:
        group_send(GROUP, {"type": "probe"})
        group_send(GROUP, {"type": "probe"})
    assert send.call_count == 2


def test_nested_batches_join_the_outer_one() -> None:
    with patch.object(fanout, "_send") as send, publication_batch():
        with publication_batch():
            group_send(GROUP, {"type": "probe", "n": 1})
        assert not send.called
        group_send(GROUP, {"type": "probe", "n": 2})
    send.assert_called_once_with([(GROUP, {"type": "probe", "n": 1}), (GROUP, {"type": "probe", "n": 2})])


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_publishes_nothing() -> None:
    with patch.object(fanout, "_send") as send, publication_batch(), transaction.atomic():
        group_send_after_commit("ws-1", {"type": "kept"})
        try:
            with transaction.atomic():
                group_send_after_commit("ws-1", {"type": "undone"})
                raise RuntimeError("the event failed")
        except RuntimeError:
            pass
    send.assert_called_once_with([(workspace_group("ws-1"), {"type": "kept"})])


def test_batch_memo_loads_once_per_batch_and_every_time_outside() -> None:
    loads: list[int] = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    with publication_batch():
        assert batch_memo("k", load) == batch_memo("k", load) == 1
    assert batch_memo("k", load) == 2
    assert batch_memo("k", load) == 3


def _session_with_an_endpoint(settings: Any) -> tuple[WhatsAppSession, Worker]:
    """A connected session, and its worker, whose workspace has a webhook endpoint for message.received."""
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = True  # the endpoint is on loopback
    session: WhatsAppSession = connected_session()
    assert session.worker is not None
    endpoint_for(session.workspace, "http://127.0.0.1:9/in", event_types=["message.received"])
    return session, session.worker


@pytest.mark.django_db(transaction=True)
def test_an_ingest_batch_publishes_once_and_reads_the_endpoints_once(settings: Any) -> None:
    session, worker = _session_with_an_endpoint(settings)

    events = [event(session, "message.received", received(f"W{n}", content={"text": f"m{n}"})) for n in range(5)]
    with (
        patch.object(fanout, "_send") as send,
        patch("sessions_app.tasks.deliver_webhook.delay"),
        CaptureQueriesContext(connection) as queries,
    ):
        result = ingest_events(worker=worker, events=events)

    assert len(result.accepted) == 5
    assert Delivery.objects.filter(endpoint__workspace=session.workspace).count() == 5
    endpoint_reads = [q for q in queries.captured_queries if 'FROM "sessions_app_webhookendpoint"' in q["sql"]]
    assert len(endpoint_reads) == 1
    [(publications,), _] = send.call_args
    assert send.call_count == 1
    # Per event: the portal's update, then the stream's event, in the order the events came.
    assert [group for group, _ in publications] == [
        group for _ in range(5) for group in (workspace_group(session.workspace_id), events_group(session.workspace_id))
    ]
    texts = [message["envelope"]["data"]["content"]["text"] for _, message in publications if "envelope" in message]
    assert texts == [f"m{n}" for n in range(5)]


def _sent(session: WhatsAppSession, n: int) -> dict[str, Any]:
    return event(session, "message.receipt", {"type": "delivered", "wa_ids": [f"NOPE{n}"]})


def _inbound(session: WhatsAppSession, wa_id: str) -> dict[str, Any]:
    return event(session, "message.received", received(wa_id, content={"text": wa_id}))


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_applies_cleanly_takes_no_savepoints_and_no_lookup_of_its_event_ids() -> None:
    session: WhatsAppSession = connected_session()
    assert session.worker is not None
    events = [_sent(session, n) for n in range(3)] + [_inbound(session, f"NEW{n}") for n in range(3)]
    with patch.object(fanout, "_send"), CaptureQueriesContext(connection) as queries:
        result = ingest_events(worker=session.worker, events=events)
    assert len(result.accepted) == 6
    statements = [q["sql"] for q in queries.captured_queries]
    assert not [sql for sql in statements if sql.startswith("SAVEPOINT")]
    assert not [sql for sql in statements if sql.startswith("SELECT") and '"sessions_app_sessionevent"' in sql]


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_message_takes_the_careful_path_and_is_stored_once() -> None:
    session: WhatsAppSession = connected_session()
    assert session.worker is not None
    with patch.object(fanout, "_send"):
        ingest_events(worker=session.worker, events=[_inbound(session, "SAME")])
        again = [_inbound(session, "SAME"), _inbound(session, "OTHER")]
        with CaptureQueriesContext(connection) as queries:
            result = ingest_events(worker=session.worker, events=again)
    assert result.accepted == [again[0]["id"], again[1]["id"]]  # the redelivery is confirmed, and applied once
    assert [q for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert sorted(Message.objects.values_list("wa_id", flat=True)) == ["OTHER", "SAME"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_event_sends_the_batch_again_event_by_event_without_the_first_attempts_publications(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sessions_app.services.worker_events import message_events

    session: WhatsAppSession = connected_session()
    assert session.worker is not None
    real = message_events.message_status_changed

    def flaky(message: Message, event: str | None = None) -> None:
        real(message, event)
        if message.content.get("text") == "boom":
            raise RuntimeError("database hiccup")  # after the event published: its publications must vanish

    monkeypatch.setattr(message_events, "message_status_changed", flaky)
    texts = ["one", "boom", "three"]
    events = [
        event(session, "message.received", received(f"W{n}", content={"text": text})) for n, text in enumerate(texts)
    ]
    with patch.object(fanout, "_send") as send, CaptureQueriesContext(connection) as queries:
        result = ingest_events(worker=session.worker, events=events)

    assert result.accepted == [events[0]["id"], events[2]["id"]]
    assert result.rejected == result.duplicates == []  # the failed one stays unconfirmed: the worker sends it again
    assert [q for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT")]  # the second attempt
    [(publications,), _] = send.call_args
    published = [m["envelope"]["data"]["content"]["text"] for _, m in publications if "envelope" in m]
    assert published == ["one", "three"]
    assert sorted(Event.objects.values_list("envelope__data__content__text", flat=True)) == ["one", "three"]


def _inserts_into(statements: list[str], table: str) -> int:
    return len([sql for sql in statements if sql.startswith(f'INSERT INTO "{table}"')])


@pytest.mark.django_db(transaction=True)
def test_a_clean_batch_writes_its_session_events_events_and_deliveries_in_one_insert_each(settings: Any) -> None:
    session, worker = _session_with_an_endpoint(settings)
    events = [_inbound(session, f"BULK{n}") for n in range(4)]
    with (
        patch.object(fanout, "_send"),
        patch("sessions_app.tasks.deliver_webhook.delay") as deliver,
        CaptureQueriesContext(connection) as queries,
    ):
        result = ingest_events(worker=worker, events=events)

    assert len(result.accepted) == 4
    statements = [q["sql"] for q in queries.captured_queries]
    assert _inserts_into(statements, "sessions_app_sessionevent") == 1
    assert _inserts_into(statements, "sessions_app_event") == 1
    assert _inserts_into(statements, "sessions_app_delivery") == 1
    assert SessionEvent.objects.filter(session=session).count() == 4
    assert sorted(Event.objects.values_list("envelope__data__content__text", flat=True)) == [
        f"BULK{n}" for n in range(4)
    ]
    # The deliveries handed to Celery after the commit are the ones written.
    handed = sorted(call.args[0] for call in deliver.call_args_list)
    assert handed == sorted(str(pk) for pk in Delivery.objects.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
def test_an_event_sent_again_with_new_ones_is_a_duplicate_and_the_new_ones_are_stored() -> None:
    session: WhatsAppSession = connected_session()
    assert session.worker is not None
    first = _sent(session, 1)
    with patch.object(fanout, "_send"):
        ingest_events(worker=session.worker, events=[first])
        # The worker's earlier request was answered, but the answer was lost: it sends the event again with new ones.
        again = [first, _sent(session, 2)]
        result = ingest_events(worker=session.worker, events=again)
    assert result.duplicates == [first["id"]]
    assert result.accepted == [again[1]["id"]]
    assert SessionEvent.objects.filter(session=session).count() == 2


def test_a_batch_publishes_only_to_groups_someone_is_in_and_asks_redis_once() -> None:
    layer, channel = _listen(GROUP)
    assert isinstance(layer, RedisChannelLayer)  # the tests run on the real channel layer
    with (
        patch.object(layer, "group_send", wraps=layer.group_send) as group_sends,
        patch.object(fanout, "groups_with_members", wraps=fanout.groups_with_members) as questions,
        publication_batch(),
    ):
        for n in range(3):
            group_send(GROUP, {"type": "probe", "n": n})
            group_send("fanout-nobody", {"type": "probe", "n": n})
    assert questions.call_count == 1
    assert [call.args[0] for call in group_sends.call_args_list] == [GROUP] * 3
    assert [message["n"] for message in _received(layer, channel, 3)] == [0, 1, 2]


def test_groups_with_members_names_the_groups_that_have_one() -> None:
    layer, _ = _listen(GROUP)
    asked = [GROUP, "fanout-nobody", "fanout-nobody-either"]
    assert fanout.groups_with_members(layer, asked) == {GROUP}
    assert fanout.groups_with_members(InMemoryChannelLayer(), asked) is None


def test_a_batch_for_groups_nobody_is_in_makes_no_trip_to_the_event_loop() -> None:
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    with patch.object(fanout, "async_to_sync", wraps=async_to_sync) as trips, publication_batch():
        group_send("fanout-nobody", {"type": "probe"})
        group_send("fanout-nobody-either", {"type": "probe"})
    assert trips.call_count == 0
    listening, channel = _listen(GROUP)
    with patch.object(fanout, "async_to_sync", wraps=async_to_sync) as trips, publication_batch():
        group_send(GROUP, {"type": "probe", "n": 7})
    assert trips.call_count == 1
    assert [message["n"] for message in _received(listening, channel, 1)] == [7]
