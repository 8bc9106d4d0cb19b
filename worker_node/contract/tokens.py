"""Bearer secrets with a recognisable prefix, a public id and a checksum: API keys, worker and enrollment tokens.

A token reads ``<kind prefix><id><secret><checksum>``: a 12-character public id (shown in listings and logs), a
32-character secret and a 6-character CRC-32 checksum, all base62. The checksum lets us (and secret scanners) reject a
mistyped or truncated token without a database query. Only the SHA-256 of the whole token is stored — a token carries
190 random bits, so a slow password hash would add latency to every request without adding safety.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 12
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def checksum(body: str) -> str:
    value = zlib.crc32(body.encode())
    digits = []
    for _ in range(CHECKSUM_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    raw: str  # shown once; never stored
    prefix: str  # kind prefix + public id: identifies the token in listings
    hash: str


class TokenKind:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._pattern = re.compile(
            rf"^{re.escape(prefix)}[0-9A-Za-z]{{{ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH}}}$"
        )

    def issue(self) -> IssuedToken:
        body = self.prefix + _random(ID_LENGTH) + _random(SECRET_LENGTH)
        raw = body + checksum(body)
        return IssuedToken(raw=raw, prefix=self.public_prefix(raw), hash=hash_token(raw))

    def is_well_formed(self, raw: str) -> bool:
        if not self._pattern.match(raw):
            return False
        body, check = raw[:-CHECKSUM_LENGTH], raw[-CHECKSUM_LENGTH:]
        return hmac.compare_digest(checksum(body), check)

    def public_prefix(self, raw: str) -> str:
        return raw[: len(self.prefix) + ID_LENGTH]

    @staticmethod
    def matches(raw: str, stored_hash: str) -> bool:
        """Constant-time comparison of a presented token with a stored hash."""
        return hmac.compare_digest(stored_hash, hash_token(raw))


API_KEY = TokenKind("sb_live_")
WORKER_TOKEN = TokenKind("sbw_")
ENROLLMENT_TOKEN = TokenKind("sbe_")
