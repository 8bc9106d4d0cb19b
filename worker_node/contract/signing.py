"""Authentication of the gateway's commands to a worker.

The worker holds its token; the gateway stores only the token's SHA-256. Commands are signed with HMAC-SHA256 keyed by
that hash, over the method, path, a timestamp and the body's digest, so a command cannot be forged without the gateway's
record of the worker, nor replayed after ``MAX_SKEW`` seconds. Revoking a worker deletes nothing the worker could use
to reach the gateway: its own calls are refused by the gateway.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Switchboard-Timestamp"
SIGNATURE_HEADER = "X-Switchboard-Signature"
MAX_SKEW = 300


def _message(method: str, path: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, hashlib.sha256(body).hexdigest()]).encode()


def sign(token_hash: str, method: str, path: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(bytes.fromhex(token_hash), _message(method, path, stamp, body), hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: digest}


def verify(token_hash: str, method: str, path: str, body: bytes, timestamp: str, signature: str) -> bool:
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    if skew > MAX_SKEW:
        return False
    expected = sign(token_hash, method, path, body, int(timestamp))[SIGNATURE_HEADER]
    return hmac.compare_digest(expected, signature)
