"""Snapshot encryption: AES-256-GCM with rotating keys, bound to the session id."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest

from worker_node.crypto import MAGIC, SnapshotKeyError, SnapshotKeys, decrypt, encrypt

PLAINTEXT = b'{"device": {"phone": "+15550100777", "noise_key": "secret"}}'


def key_text() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def keys(spec: str) -> SnapshotKeys:
    return SnapshotKeys.parse(spec)


def test_a_snapshot_round_trips() -> None:
    ring = keys(f"k1:{key_text()}")

    blob = encrypt(ring, "session-a", PLAINTEXT)

    assert decrypt(ring, "session-a", blob) == PLAINTEXT
    assert blob.startswith(MAGIC)
    assert PLAINTEXT not in blob
    assert b"+15550100777" not in blob


def test_each_encryption_uses_a_fresh_nonce() -> None:
    ring = keys(f"k1:{key_text()}")

    assert encrypt(ring, "a", PLAINTEXT) != encrypt(ring, "a", PLAINTEXT)


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old_key, new_key = key_text(), key_text()
    old_blob = encrypt(keys(f"old:{old_key}"), "a", PLAINTEXT)
    rotated = keys(f"new:{new_key},old:{old_key}")

    new_blob = encrypt(rotated, "a", PLAINTEXT)

    assert rotated.current_id == "new"
    assert decrypt(rotated, "a", old_blob) == PLAINTEXT
    assert decrypt(keys(f"new:{new_key}"), "a", new_blob) == PLAINTEXT
    with pytest.raises(SnapshotKeyError):
        decrypt(keys(f"old:{old_key}"), "a", new_blob)


def test_a_snapshot_of_an_unknown_key_is_refused_naming_the_key() -> None:
    blob = encrypt(keys(f"retired-2023:{key_text()}"), "a", PLAINTEXT)

    with pytest.raises(SnapshotKeyError, match="'retired-2023'") as refused:
        decrypt(keys(f"current:{key_text()}"), "a", blob)

    assert "does not have" in str(refused.value)


def test_a_wrong_key_with_the_same_id_is_refused_naming_the_key() -> None:
    blob = encrypt(keys(f"main:{key_text()}"), "a", PLAINTEXT)

    with pytest.raises(SnapshotKeyError, match="key 'main' does not open this snapshot"):
        decrypt(keys(f"main:{key_text()}"), "a", blob)


def test_a_snapshot_of_one_session_does_not_open_as_another() -> None:
    ring = keys(f"k1:{key_text()}")
    blob = encrypt(ring, "session-a", PLAINTEXT)

    with pytest.raises(SnapshotKeyError, match="k1"):
        decrypt(ring, "session-b", blob)


def test_an_altered_snapshot_is_refused() -> None:
    ring = keys(f"k1:{key_text()}")
    blob = bytearray(encrypt(ring, "a", PLAINTEXT))
    blob[-20] ^= 0x01

    with pytest.raises(SnapshotKeyError, match="altered"):
        decrypt(ring, "a", bytes(blob))


@pytest.mark.parametrize(
    "blob",
    [pytest.param(b"", id="empty"), pytest.param(b"SBS1", id="magic-only"), pytest.param(b"PK\x03\x04zip", id="other")],
)
def test_data_that_is_not_a_snapshot_is_refused(blob: bytes) -> None:
    with pytest.raises(SnapshotKeyError):
        decrypt(keys(f"k1:{key_text()}"), "a", blob)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("", "holds no key", id="empty"),
        pytest.param(" , ,", "holds no key", id="only-commas"),
        pytest.param("k1:not*base64", "key 'k1' is not valid base64", id="bad-base64"),
        pytest.param(f"k1:{base64.b64encode(b'short').decode()}", "'k1' must be 'id:<base64 of 32 bytes>'", id="short"),
        pytest.param(f":{key_text()}", "'' must be 'id:<base64 of 32 bytes>'", id="missing-id"),
        pytest.param(f"{'x' * 65}:{key_text()}", "must be 'id:<base64", id="long-id"),
        pytest.param("k1", "'k1' must be 'id:<base64 of 32 bytes>'", id="missing-key"),
    ],
)
def test_a_bad_key_setting_is_refused_with_a_clear_message(raw: str, message: str) -> None:
    with pytest.raises(SnapshotKeyError) as refused:
        SnapshotKeys.parse(raw)

    assert message in str(refused.value)
    assert "WORKER_SNAPSHOT_KEYS" in str(refused.value)


def test_a_key_setting_may_carry_spaces_around_its_keys() -> None:
    first, second = key_text(), key_text()

    ring = SnapshotKeys.parse(f" a:{first} , b:{second} ")

    assert ring.current_id == "a"
    assert ring.keys == {"a": base64.b64decode(first), "b": base64.b64decode(second)}


def test_with_debug_on_and_no_setting_a_development_key_is_generated_once(tmp_path: Path) -> None:
    fallback = tmp_path / "keys" / "snapshot-dev.key"

    first = SnapshotKeys.from_setting_or_file("", fallback, development=True)
    second = SnapshotKeys.from_setting_or_file("", fallback, development=True)

    assert first == second
    assert first.current_id == "dev"
    assert fallback.stat().st_mode & 0o777 == 0o600


def test_a_setting_wins_over_the_development_key(tmp_path: Path) -> None:
    fallback = tmp_path / "snapshot-dev.key"
    configured = f"prod:{key_text()}"

    ring = SnapshotKeys.from_setting_or_file(configured, fallback, development=True)

    assert ring.current_id == "prod"
    assert not fallback.exists()


def test_with_debug_off_and_no_setting_it_refuses_and_makes_no_key(tmp_path: Path) -> None:
    fallback = tmp_path / "snapshot-dev.key"

    with pytest.raises(SnapshotKeyError) as refused:
        SnapshotKeys.from_setting_or_file("", fallback, development=False)

    assert "WORKER_SNAPSHOT_KEYS is not set" in str(refused.value)
    assert not fallback.exists()


def test_with_debug_off_a_development_key_left_from_before_is_not_used(tmp_path: Path) -> None:
    fallback = tmp_path / "snapshot-dev.key"
    SnapshotKeys.from_setting_or_file("", fallback, development=True)

    with pytest.raises(SnapshotKeyError, match="WORKER_SNAPSHOT_KEYS"):
        SnapshotKeys.from_setting_or_file("", fallback, development=False)
