"""The worker ships its spooled events in batches and counts what it shipped; /healthz reports the counts and the
events still waiting, so an operator (and bench.messaging) can see how events travel to the gateway."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from worker_node.config import WorkerConfig
from worker_node.engines.sandbox import SandboxEngine
from worker_node.gateway import GatewayError
from worker_node.host import SessionHost
from worker_node.node import WorkerNode
from worker_node.server import build_app
from worker_node.spool import Spool
from worker_node.tests.memory_snapshots import MemorySnapshots


def an_event(n: int) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "session_id": "s", "epoch": 1, "type": "session.qr", "data": {"n": n}}


class Gateway:
    """Stands in for the gateway's event endpoint: accepts every event, after refusing the first ``failures`` posts."""

    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[str]] = []
        self.posted_at: list[float] = []
        self.failures = failures

    async def post_events(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise GatewayError(503, "unavailable", "the gateway is restarting")
        self.batches.append([event["id"] for event in events])
        self.posted_at.append(asyncio.get_running_loop().time())
        return {"accepted": [event["id"] for event in events], "duplicates": [], "rejected": []}


def node_with(tmp_path: Path, gateway: Gateway, events: int, interval: float = 0.1) -> WorkerNode:
    config = dataclasses.replace(
        WorkerConfig.from_env(), event_batch_size=2, event_interval=interval, data_dir=tmp_path
    )
    node = WorkerNode(config)
    node.spool = Spool(tmp_path / "spool.sqlite3")
    node.gateway = gateway  # type: ignore[assignment]
    for n in range(events):
        node.spool.append(an_event(n))
    return node


def sandbox_host(tmp_path: Path, spool: Spool) -> SessionHost:
    return SessionHost(
        engine=SandboxEngine(qr_schedule=(30,)),
        data_dir=tmp_path,
        spool=spool,
        snapshots=MemorySnapshots().as_store(),
        snapshot_debounce=60,
    )


async def ship_until_empty(node: WorkerNode) -> None:
    node.events_waiting.set()
    shipping = asyncio.create_task(node._shipping())
    for _ in range(200):
        if not len(node.spool):
            break
        await asyncio.sleep(0.01)
    node.stopping.set()
    node.events_waiting.set()
    await asyncio.wait_for(shipping, timeout=5)


def test_shipped_requests_and_events_are_counted_and_failed_posts_are_not(tmp_path: Path) -> None:
    gateway = Gateway(failures=1)
    node = node_with(tmp_path, gateway, events=5)
    assert node._shipping_figures() == {"events_waiting": 5, "event_requests": 0, "events_shipped": 0}

    asyncio.run(ship_until_empty(node))

    assert [len(batch) for batch in gateway.batches] == [2, 2, 1]
    assert node._shipping_figures() == {"events_waiting": 0, "event_requests": 3, "events_shipped": 5}
    node.spool.close()


def test_the_health_probe_reports_the_shipping_figures(tmp_path: Path) -> None:
    node = node_with(tmp_path, Gateway(), events=3)
    host = sandbox_host(tmp_path, node.spool)

    async def scenario() -> dict[str, Any]:
        async with TestClient(TestServer(build_app(host, lambda: "00", node._shipping_figures))) as client:
            response = await client.get("/healthz")
            return dict(await response.json())

    health = asyncio.run(scenario())
    assert health == {"status": "ok", "sessions": 0, "events_waiting": 3, "event_requests": 0, "events_shipped": 0}
    node.spool.close()


def test_under_load_the_events_of_an_interval_travel_in_one_request(tmp_path: Path) -> None:
    gateway = Gateway()
    node = node_with(tmp_path, gateway, events=0, interval=0.4)
    node.config = dataclasses.replace(node.config, event_batch_size=10)

    async def scenario() -> None:
        shipping = asyncio.create_task(node._shipping())
        for n in range(4):  # one event every 50 ms: the first leaves at once, the next three wait for the interval
            node.spool.append(an_event(n))
            node.events_waiting.set()
            await asyncio.sleep(0.05)
        for _ in range(100):
            if not len(node.spool):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # a quiet spell: the next event leaves at once
        node.spool.append(an_event(4))
        node.events_waiting.set()
        quiet_event_at = asyncio.get_running_loop().time()
        for _ in range(100):
            if len(gateway.batches) == 3:
                break
            await asyncio.sleep(0.01)
        node.stopping.set()
        node.events_waiting.set()
        await asyncio.wait_for(shipping, timeout=5)
        assert gateway.posted_at[2] - quiet_event_at < 0.2

    asyncio.run(scenario())
    assert [len(batch) for batch in gateway.batches] == [1, 3, 1]
    assert gateway.posted_at[1] - gateway.posted_at[0] >= 0.39
    node.spool.close()


def test_a_full_batch_does_not_wait_for_the_interval(tmp_path: Path) -> None:
    gateway = Gateway()
    node = node_with(tmp_path, gateway, events=6, interval=5.0)

    asyncio.run(ship_until_empty(node))

    assert [len(batch) for batch in gateway.batches] == [2, 2, 2]
    assert gateway.posted_at[-1] - gateway.posted_at[0] < 1
    node.spool.close()


class RefusingGateway(Gateway):
    """Refuses every event of session "s" under epoch 1 as stale, and accepts the rest."""

    code = "stale_epoch"

    async def post_events(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        stale = [e for e in events if e["session_id"] == "s" and e["epoch"] == 1]
        self.batches.append([event["id"] for event in events])
        return {
            "accepted": [e["id"] for e in events if e not in stale],
            "duplicates": [],
            "rejected": [{"id": e["id"], "code": self.code} for e in stale],
        }


class FencingHost:
    def __init__(self) -> None:
        self.fenced: list[tuple[str, int]] = []

    async def fence(self, session_id: str, epoch: int) -> bool:
        self.fenced.append((session_id, epoch))
        return True


@pytest.mark.parametrize("code", ["stale_epoch", "not_held"])
def test_a_session_whose_events_come_back_stale_is_stopped_at_once(tmp_path: Path, code: str) -> None:
    gateway = RefusingGateway()
    gateway.code = code
    node = node_with(tmp_path, gateway, events=3)
    node.spool.append({**an_event(9), "session_id": "t", "epoch": 1})  # another session's event is accepted
    node.host = FencingHost()  # type: ignore[assignment]

    asyncio.run(ship_until_empty(node))

    # once per batch with a refusal (batches of two here); the session that was accepted is left alone
    assert node.host.fenced == [("s", 1), ("s", 1)]  # type: ignore[attr-defined]
    assert len(node.spool) == 0  # refused for good: not sent again
    node.spool.close()


def test_metrics_show_the_sessions_by_state_and_the_shipping_figures_without_a_signature(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from worker_node.engines.base import SessionSpec

    node = node_with(tmp_path, Gateway(), events=2)
    node.event_requests, node.events_shipped = 4, 9
    host = sandbox_host(tmp_path, node.spool)

    async def scenario() -> tuple[int, str]:
        await host.ensure(SessionSpec(id=str(uuid.uuid4()), epoch=1, engine="sandbox"))
        for _ in range(100):
            if all(hosted.state == "scan_qr" for hosted in host.hosted.values()):
                break
            await asyncio.sleep(0.01)
        try:
            async with TestClient(TestServer(build_app(host, lambda: "00", node._shipping_figures))) as client:
                response = await client.get("/metrics")  # unsigned, like /healthz
                return response.status, await response.text()
        finally:
            await host.shutdown()

    status, text = asyncio.run(scenario())

    assert status == 200
    families = text_string_to_metric_families(text)
    found = {(s.name, tuple(s.labels.items())): s.value for family in families for s in family.samples}
    assert found[("switchboard_node_sessions", (("state", "scan_qr"),))] == 1
    assert found[("switchboard_node_spool_events", ())] >= 2  # the two events, and what the session said since
    assert found[("switchboard_node_event_requests_total", ())] == 4
    assert found[("switchboard_node_events_shipped_total", ())] == 9
    node.spool.close()
