"""Request bodies without a Content-Length (``Transfer-Encoding: chunked``) as uvicorn hands them to the API."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from accounts.models import Scope
from accounts.services.api_keys import api_key_create
from accounts.tests.factories import WorkspaceFactory
from sessions_app.models import WhatsAppSession
from tests.fixtures.platform import database_url
from tests.fixtures.processes import Process, child_env, gateway

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(transactional_db: None, tmp_path: Path) -> Iterator[tuple[Process, str]]:
    env = child_env(DATABASE_URL=database_url(), DEBUG="false", SWITCHBOARD_VAR_DIR=str(tmp_path / "var"))
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
        env["REDIS_KEY_PREFIX"] = settings.REDIS_KEY_PREFIX
    workspace = WorkspaceFactory.create(name="Chunked")
    key = api_key_create(workspace=workspace, name="e2e", scopes=list(Scope.values), created_by=None).raw_key
    with gateway(env, tmp_path / "gateway.log") as process:
        yield process, key


def connect(process: Process) -> http.client.HTTPConnection:
    host, port = process.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=20)


def start_chunked(process: Process, key: str, path: str) -> http.client.HTTPConnection:
    conn = connect(process)
    conn.putrequest("POST", path)
    conn.putheader("Authorization", f"Bearer {key}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    return conn


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def answer(conn: http.client.HTTPConnection) -> tuple[int, Any]:
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    return response.status, body


def test_a_chunked_body_is_refused_as_length_required_not_read_as_empty(served: tuple[Process, str]) -> None:
    process, key = served
    conn = start_chunked(process, key, "/api/v1/sessions")
    conn.send(chunk(b'{"name":"chunked",') + chunk(b'"start":false}') + b"0\r\n\r\n")
    status, body = answer(conn)
    assert status == 411, body
    assert body["error"]["code"] == "length_required"
    assert not WhatsAppSession.objects.filter(name="chunked").exists()

    # The same body with a Content-Length is read.
    conn = connect(process)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request("POST", "/api/v1/sessions", body=b'{"name":"chunked","start":false}', headers=headers)
    status, body = answer(conn)
    assert status == 201, body
    assert body["name"] == "chunked"


def test_a_large_chunked_body_is_refused_before_it_is_read(served: tuple[Process, str]) -> None:
    """The answer comes after the first chunk of a would-be 20 MB body: the gateway does not spool it first."""
    process, key = served
    for path in ("/api/v1/sessions", "/internal/v1/events"):
        conn = start_chunked(process, key, path)
        conn.send(chunk(b"[" + b" " * 65536))
        status, body = answer(conn)
        assert status == 411, (path, body)
        assert body["error"]["code"] == "length_required"
