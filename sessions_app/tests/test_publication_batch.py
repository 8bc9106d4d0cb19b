"""An ingest batch publishes its live updates in one trip after the commit, in order, and reads the workspace's
webhook endpoints once; a change whose savepoint rolled back publishes nothing."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from sessions_app.models import Delivery, Event, Message, WhatsAppSession
from sessions_app.services import fanout
from sessions_app.services.fanout import batch_memo, group_send, publication_batch
from sessions_app.services.ingest import ingest_events
from sessions_app.services.publish import events_group
from sessions_app.services.state import group_send_after_commit, workspace_group
from sessions_app.tests.helpers import event
from sessions_app.tests.message_helpers import connected_session, received
from sessions_app.tests.webhook_helpers import endpoint_for

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


@pytest.mark.django_db(transaction=True)
def test_an_ingest_batch_publishes_once_and_reads_the_endpoints_once(settings: Any) -> None:
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = True
    session: WhatsAppSession = connected_session()
    assert session.worker is not None
    endpoint_for(session.workspace, "http://127.0.0.1:9/in", event_types=["message.received"])

    events = [event(session, "message.received", received(f"W{n}", content={"text": f"m{n}"})) for n in range(5)]
    with (
        patch.object(fanout, "_send") as send,
        patch("sessions_app.tasks.deliver_webhook.delay"),
        CaptureQueriesContext(connection) as queries,
    ):
        result = ingest_events(worker=session.worker, events=events)

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
    from sessions_app.services import ingest

    session: WhatsAppSession = connected_session()
    assert session.worker is not None
    real = ingest.apply_event

    def flaky(target: WhatsAppSession, kind: str, data: dict[str, Any], occurred_at: Any) -> None:
        real(target, kind, data, occurred_at)
        if data.get("content", {}).get("text") == "boom":
            raise RuntimeError("database hiccup")  # after the event published: its publications must vanish

    monkeypatch.setattr(ingest, "apply_event", flaky)
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
