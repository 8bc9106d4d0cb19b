"""The published schema tells the truth: schemathesis fuzzes every operation of /api/schema/ against a real gateway
(uvicorn, Celery and a sandbox worker) and checks that every answer's status, content type and body are documented.

The API key has every scope, and the ids in the paths resolve: a connected sandbox session with a sent image, sessions
showing a QR code, a webhook endpoint with a delivery. Operations that destroy what they act on (delete, log out,
revoke) or change its state (start, stop, pair) get objects of their own, so the others keep finding theirs.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accounts.models import Scope
from accounts.services.api_keys import api_key_create
from tests.fixtures.platform import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Cases per operation: the coverage phase's boundary values, then random ones. About a minute on two cores.
MAX_EXAMPLES, FUZZED_EXAMPLES = 12, 30
SEND_RATE = 60000  # messages a minute: sends that wait for their message to leave the queue find it short
DEADLINE = 480  # seconds for the whole run, far above what it takes
# A 1x1 PNG: the image message whose media the fuzzer downloads.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
# Whose id each operation with an {id} gets; every other one gets the connected session's.
TARGETS = {
    "DELETE /sessions/{id}": "doomed_session",
    "POST /sessions/{id}/start": "spare_session",
    "POST /sessions/{id}/stop": "spare_session",
    "POST /sessions/{id}/restart": "spare_session",
    "POST /sessions/{id}/logout": "spare_session",
    "GET /sessions/{id}/qr": "qr_session",
    "GET /sessions/{id}/qr.png": "qr_session",
    "GET /sessions/{id}/qr.svg": "qr_session",
    "POST /sessions/{id}/pairing-code": "pairing_session",
    "POST /sessions/{id}/sandbox/scan": "pairing_session",
    "GET /messages/{id}": "message",
    "GET /messages/{id}/media": "message",
    "GET /webhooks/{id}": "webhook",
    "PATCH /webhooks/{id}": "webhook",
    "DELETE /webhooks/{id}": "doomed_webhook",
    "POST /webhooks/{id}/rotate-secret": "webhook",
    "POST /webhooks/{id}/test": "webhook",
    "POST /webhooks/{id}/replay": "webhook",
    "GET /webhooks/{id}/deliveries": "webhook",
    "GET /deliveries/{id}": "delivery",
    "POST /deliveries/{id}/replay": "delivery",
    "GET /api-keys/{id}": "doomed_key",
    "DELETE /api-keys/{id}": "doomed_key",
}


def objects(platform: Platform) -> dict[str, str]:
    """The objects the fuzzed operations act on, by name."""
    api = platform.api
    found = {"session": platform.link("contract", "+15550100071", send_rate_per_minute=SEND_RATE)}
    image = api.post(
        f"/sessions/{found['session']}/messages",
        json={"to": "+15550100072", "type": "image", "media": {"base64": base64.b64encode(PNG).decode()}},
    )
    assert image.status_code == 202, image.text
    found["message"] = image.json()["id"]
    for name, start in (("qr_session", True), ("pairing_session", True), ("spare_session", False),
                        ("doomed_session", False)):  # fmt: skip
        created = api.post("/sessions", json={"name": name, "engine": "sandbox", "start": start})
        assert created.status_code == 201, created.text
        found[name] = created.json()["id"]
    for name in ("qr_session", "pairing_session"):
        platform.wait_for(f"/sessions/{found[name]}", lambda s: s["state"] == "scan_qr")
    for name in ("webhook", "doomed_webhook"):
        created = api.post("/webhooks", json={"url": f"http://127.0.0.1:9/{name}"})  # nothing listens: it fails
        assert created.status_code == 201, created.text
        found[name] = created.json()["id"]
    found["delivery"] = api.post(f"/webhooks/{found['webhook']}/test").json()["id"]
    doomed_key = api_key_create(workspace=platform.workspace, name="doomed", scopes=list(Scope.values), created_by=None)
    found["doomed_key"] = str(doomed_key.api_key.pk)
    return found


def config(raw_key: str, ids: dict[str, str]) -> str:
    """schemathesis.toml (JSON's strings, numbers and booleans are TOML's too)."""
    lines = [
        "continue-on-failure = true",
        "request-timeout = 40",  # a send may wait up to 30 s for its message to leave the queue
        "[headers]",
        f"Authorization = {json.dumps(f'Bearer {raw_key}')}",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        "deterministic = true",
        'database = "none"',
        "[phases.fuzzing.generation]",
        f"max-examples = {FUZZED_EXAMPLES}",
        "[parameters]",
        f'"path.id" = {json.dumps(ids["session"])}',
    ]
    for name, target in TARGETS.items():
        method, path = name.split(" ")
        lines += [
            "[[operations]]",
            f'include-name = "{method} /api/v1{path}"',
            f'parameters = {{ "path.id" = {json.dumps(ids[target])} }}',
        ]
    return "\n".join(lines) + "\n"


def test_every_answer_of_the_api_is_one_its_schema_documents(platform: Platform, tmp_path: Path) -> None:
    # Thousands of requests in a minute: the rate limit would answer most of them 429. QR codes that last the
    # whole run keep the QR endpoints answering images.
    platform.env["API_RATE_LIMIT"] = "1000000/min"
    platform.env["SEND_RATE_MAX_PER_MINUTE"] = str(SEND_RATE)
    platform.restart_gateway(down_for=lambda: None)
    platform.start_worker("w1", WORKER_CAPACITY="10", SANDBOX_QR_SCHEDULE="600")
    ids = objects(platform)
    raw_key = platform.api.headers["Authorization"].removeprefix("Bearer ")
    (tmp_path / "schemathesis.toml").write_text(config(raw_key, ids))

    log = tmp_path / "schemathesis.log"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(tmp_path / "schemathesis.toml"), "run",
        f"{platform.gateway.url}/api/schema/", "--url", platform.gateway.url, "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing", "--no-color",
    ]  # fmt: skip
    started = time.monotonic()
    with log.open("w") as out:
        try:
            done = subprocess.run(command, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"schemathesis did not finish within {DEADLINE} s; its log so far:\n{log.read_text()[-5000:]}")
    took = time.monotonic() - started
    assert done.returncode == 0, f"{log.read_text()[-20000:]}\n(took {took:.0f} s; the whole log: {log})"
