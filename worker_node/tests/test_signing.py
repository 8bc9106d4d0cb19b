"""The gateway's commands to a worker are signed (HMAC over method, path, timestamp and body, keyed by the worker
token's hash); the worker's command server refuses anything else, except its health probe."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from worker_node.contract.signing import MAX_SKEW, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from worker_node.contract.tokens import WORKER_TOKEN, hash_token
from worker_node.engines.sandbox import SandboxEngine
from worker_node.host import SessionHost
from worker_node.server import build_app
from worker_node.spool import Spool
from worker_node.tests.memory_snapshots import MemorySnapshots

TOKEN_HASH = hash_token(WORKER_TOKEN.issue().raw)
OTHER_HASH = hash_token(WORKER_TOKEN.issue().raw)
BODY = b'{"epoch": 3, "engine": "sandbox"}'
PATH = "/sessions/6f1c1b9e-3f43-4c36-9a39-2a4f7d3f0c11/start"


def check(headers: dict[str, str], *, token_hash: str = TOKEN_HASH, method: str = "POST", path: str = PATH,
          body: bytes = BODY) -> bool:  # fmt: skip
    return verify(token_hash, method, path, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER])


def test_a_fresh_signature_is_accepted() -> None:
    assert check(sign(TOKEN_HASH, "POST", PATH, BODY))


def test_the_method_is_compared_case_insensitively() -> None:
    assert check(sign(TOKEN_HASH, "post", PATH, BODY), method="POST")


def test_a_tampered_body_is_refused() -> None:
    assert not check(sign(TOKEN_HASH, "POST", PATH, BODY), body=BODY.replace(b"3", b"4"))


def test_a_signature_for_another_path_is_refused() -> None:
    assert not check(sign(TOKEN_HASH, "POST", PATH, BODY), path=PATH.replace("/start", "/logout"))


def test_a_signature_for_another_method_is_refused() -> None:
    assert not check(sign(TOKEN_HASH, "POST", PATH, BODY), method="DELETE")


def test_a_signature_made_with_another_key_is_refused() -> None:
    assert not check(sign(OTHER_HASH, "POST", PATH, BODY))


@pytest.mark.parametrize(
    "offset", [pytest.param(-(MAX_SKEW + 5), id="too-old"), pytest.param(MAX_SKEW + 5, id="future")]
)
def test_a_timestamp_outside_the_allowed_skew_is_refused(offset: int) -> None:
    assert not check(sign(TOKEN_HASH, "POST", PATH, BODY, timestamp=int(time.time()) + offset))


def test_a_timestamp_within_the_allowed_skew_is_accepted() -> None:
    assert check(sign(TOKEN_HASH, "POST", PATH, BODY, timestamp=int(time.time()) - MAX_SKEW + 5))


def test_a_changed_timestamp_breaks_the_signature() -> None:
    headers = sign(TOKEN_HASH, "POST", PATH, BODY)
    headers[TIMESTAMP_HEADER] = str(int(headers[TIMESTAMP_HEADER]) - 1)

    assert not check(headers)


@pytest.mark.parametrize("stamp", ["", "yesterday", "1.5e9"])
def test_a_malformed_timestamp_is_refused(stamp: str) -> None:
    headers = sign(TOKEN_HASH, "POST", PATH, BODY)

    assert not verify(TOKEN_HASH, "POST", PATH, BODY, stamp, headers[SIGNATURE_HEADER])


# --- the worker's command server --------------------------------------------------------------------------------


def with_server(tmp_path: Path, scenario: Callable[[TestClient[Any, Any], SessionHost], Awaitable[None]]) -> None:
    async def main() -> None:
        spool = Spool(tmp_path / "spool.sqlite3")
        host = SessionHost(
            engine=SandboxEngine(qr_schedule=(30,)),
            data_dir=tmp_path,
            spool=spool,
            snapshots=MemorySnapshots().as_store(),
            snapshot_debounce=60,
        )
        client: TestClient[Any, Any] = TestClient(TestServer(build_app(host, lambda: TOKEN_HASH)))
        await client.start_server()
        try:
            await scenario(client, host)
        finally:
            await host.shutdown()
            await client.close()
            spool.close()

    asyncio.run(main())


def signed(path: str, payload: dict[str, Any], token_hash: str = TOKEN_HASH) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", **sign(token_hash, "POST", path, body)}


async def assert_bad_signature(response: Any) -> None:
    assert response.status == 401
    body = await response.json()
    assert body["error"]["code"] == "bad_signature"
    assert set(body["error"]) == {"code", "message", "details"}


def test_the_health_probe_needs_no_signature(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], host: SessionHost) -> None:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"status": "ok", "sessions": 0}

    with_server(tmp_path, scenario)


def test_an_unsigned_command_is_refused_and_not_carried_out(tmp_path: Path) -> None:
    session_id = str(uuid.uuid4())

    async def scenario(client: TestClient[Any, Any], host: SessionHost) -> None:
        response = await client.post(f"/sessions/{session_id}/start", json={"epoch": 1, "engine": "sandbox"})
        await assert_bad_signature(response)
        assert host.get(session_id) is None

    with_server(tmp_path, scenario)


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda path, body, headers: (path, body, {**headers, SIGNATURE_HEADER: "0" * 64}), id="bad-mac"),
        pytest.param(lambda path, body, headers: (path, body + b" ", headers), id="tampered-body"),
        pytest.param(
            lambda path, body, headers: (path.replace("start", "logout"), body, headers), id="signed-for-another-path"
        ),
        pytest.param(
            lambda path, body, headers: (path, body, {**headers, TIMESTAMP_HEADER: str(int(time.time()) - 3600)}),
            id="replayed-later",
        ),
    ],
)
def test_a_badly_signed_command_is_refused(tmp_path: Path, spoil: Callable[..., Any]) -> None:
    session_id = str(uuid.uuid4())
    path = f"/sessions/{session_id}/start"
    body, headers = signed(path, {"epoch": 1, "engine": "sandbox"})
    path, body, headers = spoil(path, body, headers)

    async def scenario(client: TestClient[Any, Any], host: SessionHost) -> None:
        await assert_bad_signature(await client.post(path, data=body, headers=headers))
        assert host.hosted == {}

    with_server(tmp_path, scenario)


def test_a_command_signed_with_another_workers_key_is_refused(tmp_path: Path) -> None:
    session_id = str(uuid.uuid4())
    path = f"/sessions/{session_id}/start"
    body, headers = signed(path, {"epoch": 1, "engine": "sandbox"}, token_hash=OTHER_HASH)

    async def scenario(client: TestClient[Any, Any], host: SessionHost) -> None:
        await assert_bad_signature(await client.post(path, data=body, headers=headers))
        assert host.get(session_id) is None

    with_server(tmp_path, scenario)


def test_a_signed_command_is_carried_out(tmp_path: Path) -> None:
    session_id = str(uuid.uuid4())
    path = f"/sessions/{session_id}/start"
    body, headers = signed(path, {"epoch": 2, "engine": "sandbox"})

    async def scenario(client: TestClient[Any, Any], host: SessionHost) -> None:
        response = await client.post(path, data=body, headers=headers)
        assert response.status == 202, await response.text()
        hosted = host.get(session_id)
        assert hosted is not None
        assert hosted.spec.epoch == 2

    with_server(tmp_path, scenario)


def test_a_signed_command_with_an_older_epoch_is_refused_as_stale(tmp_path: Path) -> None:
    session_id = str(uuid.uuid4())

    async def scenario(client: TestClient[Any, Any], host: SessionHost) -> None:
        start_path = f"/sessions/{session_id}/start"
        body, headers = signed(start_path, {"epoch": 5, "engine": "sandbox"})
        assert (await client.post(start_path, data=body, headers=headers)).status == 202
        stop_path = f"/sessions/{session_id}/stop"
        body, headers = signed(stop_path, {"epoch": 4})

        response = await client.post(stop_path, data=body, headers=headers)

        assert response.status == 409
        assert (await response.json())["error"]["code"] == "stale_epoch"
        assert host.get(session_id) is not None

    with_server(tmp_path, scenario)
