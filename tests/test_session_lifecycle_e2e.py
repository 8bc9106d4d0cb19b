"""A session's whole life with a real gateway, real worker processes (sandbox engine), PostgreSQL, Redis and S3."""

from __future__ import annotations

import shutil

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.platform import Platform
from tests.fixtures.services import S3Server

pytestmark = pytest.mark.e2e
MARKER = "PLAINTEXT-MARKER-7d1f"


def snapshot_bytes(s3_server: S3Server, session_id: str) -> bytes | None:
    try:
        obj = s3_server.client().get_object(Bucket=s3_server.bucket, Key=f"snapshots/{session_id}.bin")
    except ClientError as error:
        if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
            return None
        raise
    return bytes(obj["Body"].read())


def test_a_session_pairs_survives_restarts_and_moves_between_workers(platform: Platform, s3_server: S3Server) -> None:
    platform.start_worker("w1")
    created = platform.api.post("/sessions", json={"name": "shop"})
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    path = f"/sessions/{sid}"

    # scan_qr with a QR that rotates
    platform.wait_for(path, lambda s: s["state"] == "scan_qr")
    first = platform.api.get(f"{path}/qr").json()["code"]
    assert first.startswith("https://wa.me/settings/linked_devices#2@")
    platform.wait_for(f"{path}/qr", lambda q: q.get("code", first) != first, timeout=10)
    png = platform.api.get(f"{path}/qr.png")
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")

    # scan → connected with the linked phone
    scan = platform.api.post(f"{path}/sandbox/scan", json={"phone": "+15550100777", "push_name": MARKER})
    assert scan.status_code == 202, scan.text
    session = platform.wait_for(path, lambda s: s["state"] == "connected" and s["has_snapshot"])
    assert session["account"]["phone"] == "+15550100777"
    assert session["account"]["jid"].startswith("15550100777:")

    # the bucket holds the snapshot, never the auth file's plaintext
    stored = snapshot_bytes(s3_server, sid)
    assert stored is not None
    assert stored.startswith(b"SBS1")
    assert MARKER.encode() not in stored
    assert b"15550100777" not in stored

    # stop → stopped; start again → connected from the local store, no scan
    assert platform.api.post(f"{path}/stop").status_code == 202
    platform.wait_for(path, lambda s: s["state"] == "stopped")
    assert platform.api.post(f"{path}/start").status_code == 202
    platform.wait_for(path, lambda s: s["state"] == "connected")

    # restart the worker process → connected again without a scan
    platform.stop_worker("w1")
    platform.wait_for(path, lambda s: s["state"] == "pending")
    platform.start_worker("w1")
    session = platform.wait_for(path, lambda s: s["state"] == "connected")
    assert session["account"]["phone"] == "+15550100777"

    # delete the worker's data folder, start a new worker → restored from the snapshot, no scan
    platform.stop_worker("w1")
    shutil.rmtree(platform.tmp / "worker-w1")
    platform.start_worker("w2")
    session = platform.wait_for(path, lambda s: s["state"] == "connected")
    assert session["account"]["phone"] == "+15550100777"
    assert "restored from its snapshot" in platform.workers["w2"].log()

    # logout → logged_out, snapshot gone
    assert platform.api.post(f"{path}/logout").status_code == 202
    session = platform.wait_for(path, lambda s: s["state"] == "logged_out")
    assert session["account"] is None
    platform.wait_for(path, lambda s: snapshot_bytes(s3_server, sid) is None, timeout=10)
    auth_file = platform.tmp / "worker-w2" / "sessions" / sid / "sandbox-auth.json"
    platform.wait_for(path, lambda s: not auth_file.exists(), timeout=10)


def test_a_wrong_snapshot_key_fails_clearly_and_keeps_the_snapshot(platform: Platform, s3_server: S3Server) -> None:
    platform.start_worker("w1")
    sid = platform.api.post("/sessions", json={"name": "keys"}).json()["id"]
    path = f"/sessions/{sid}"
    platform.wait_for(path, lambda s: s["state"] == "scan_qr")
    platform.api.post(f"{path}/sandbox/scan", json={})
    platform.wait_for(path, lambda s: s["state"] == "connected" and s["has_snapshot"])
    platform.stop_worker("w1")
    before = snapshot_bytes(s3_server, sid)

    other_key = "k9:" + "A" * 43 + "="
    platform.start_worker("w2", WORKER_SNAPSHOT_KEYS=other_key)
    session = platform.wait_for(path, lambda s: s["state"] == "failed")
    assert "snapshot_unreadable" in session["state_reason"]
    assert "k1" in session["state_reason"]  # names the key the snapshot needs
    assert snapshot_bytes(s3_server, sid) == before
