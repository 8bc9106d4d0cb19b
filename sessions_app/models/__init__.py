"""The sessions app's models, split by concern: sessions and their events, messages."""

from sessions_app.models.messages import (
    MEDIA_TYPES,
    STATUS_RANK,
    Direction,
    IdempotencyRecord,
    Message,
    MessageStatus,
    MessageType,
)
from sessions_app.models.sessions import (
    Desired,
    PairingMethod,
    SessionAssignment,
    SessionEvent,
    SessionState,
    WhatsAppSession,
)
from sessions_app.models.webhooks import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    EventType,
    WebhookEndpoint,
)

__all__ = [
    "MEDIA_TYPES",
    "STATUS_RANK",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryStatus",
    "Desired",
    "Direction",
    "Event",
    "EventType",
    "IdempotencyRecord",
    "Message",
    "MessageStatus",
    "MessageType",
    "PairingMethod",
    "SessionAssignment",
    "SessionEvent",
    "SessionState",
    "WebhookEndpoint",
    "WhatsAppSession",
]
