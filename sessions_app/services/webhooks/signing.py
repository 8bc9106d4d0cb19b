"""Standard Webhooks signing: ``webhook-signature`` over the message id, the timestamp and the body."""

from __future__ import annotations

import base64
import hashlib
import hmac

from django.utils import timezone

from sessions_app.models import WebhookEndpoint


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers_for(endpoint: WebhookEndpoint, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    signatures = [sign(endpoint.secret, msg_id, timestamp, body)]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > timezone.now()
    ):
        signatures.append(sign(endpoint.previous_secret, msg_id, timestamp, body))
    return {
        "Content-Type": "application/json",
        "User-Agent": "Switchboard-Webhooks/1.0",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }
