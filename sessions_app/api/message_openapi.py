"""What /api/schema/ says about the messages API: summaries, descriptions for customers, every answer, and an
example of each message type a send can carry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from paas.schema import error
from sessions_app.api.message_serializers import (
    AcceptedSerializer,
    ChatListSerializer,
    CheckNumbersSerializer,
    MarkedReadSerializer,
    MarkReadSerializer,
    MessageSendSerializer,
    MessageSerializer,
    NumberChecksSerializer,
    PresenceSerializer,
)
from sessions_app.api.openapi import WORKER_UNAVAILABLE


class MessageUploadSerializer(MessageSendSerializer):
    """A send as multipart/form-data: the fields of the JSON body, flat (`location.latitude`, `media.filename`), and
    the file itself in `file`."""

    file = serializers.FileField(
        required=False,
        help_text="The media file. Its own name and content type are used unless media.filename or media.mime_type "
        "say otherwise.",
    )


TO = "+15550123456"
MESSAGE_ID = "6aef57ce-bedd-4423-9267-1d178a6ea9fe"
_SEND_EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    ("text", "Text", {"type": "text", "text": "Your order 1042 has shipped."}),
    ("text-preview", "Text with a link preview", {"text": "Track it: https://example.com/track/1042",
                                                  "link_preview": True}),
    ("text-mention", "Text mentioning someone", {"text": "Hello @15550123457", "mentions": ["+15550123457"]}),
    ("reply", "A reply quoting a message", {"text": "Tracking: ZX81", "reply_to": MESSAGE_ID}),
    ("image", "Image, fetched from a URL", {"type": "image", "caption": "Your receipt",
                                            "media": {"url": "https://cdn.example.com/receipts/1042.png"}}),
    ("video", "Video", {"type": "video", "caption": "How to assemble it",
                        "media": {"url": "https://cdn.example.com/videos/assembly.mp4"}}),
    ("audio", "Audio file", {"type": "audio", "media": {"url": "https://cdn.example.com/audio/jingle.mp3"}}),
    ("voice", "Voice note (Ogg Opus)", {"type": "voice", "media": {"url": "https://cdn.example.com/notes/hello.ogg"}}),
    ("document", "Document, as base64", {"type": "document", "caption": "Invoice 1042",
                                         "media": {"base64": "JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg==",
                                                   "mime_type": "application/pdf",
                                                   "filename": "invoice-1042.pdf"}}),
    ("sticker", "Sticker (WebP)", {"type": "sticker", "media": {"url": "https://cdn.example.com/stickers/ok.webp"}}),
    ("location", "Location", {"type": "location", "location": {"latitude": 52.52, "longitude": 13.405,
                                                               "name": "Shop", "address": "Alexanderplatz 1, Berlin"}}),
    ("contact", "Contact card", {"type": "contact", "contact": {"name": "Support desk", "phone": "+4930123456",
                                                                "organization": "ACME"}}),
    ("reaction", "Reaction", {"type": "reaction", "reaction": {"message_id": MESSAGE_ID, "emoji": "👍"}}),
    ("reaction-removed", "Reaction removed", {"type": "reaction", "reaction": {"message_id": MESSAGE_ID,
                                                                               "emoji": ""}}),
    ("edit", "Edit of a sent message", {"type": "edit", "target": MESSAGE_ID, "text": "Tracking: ZX82"}),
    ("delete", "Delete of a sent message, for everyone", {"type": "delete", "target": MESSAGE_ID}),
    ("wait", "Text, answered once sent (up to 5 s)", {"text": "Your code is 493 112.", "wait": 5,
                                                      "expires_in": 300}),
]  # fmt: skip
_QUEUED = {
    "id": MESSAGE_ID, "session": "7c181404-b643-433a-8830-a1bb6e30c1f4", "direction": "out", "type": "text",
    "chat_jid": "15550123456@s.whatsapp.net",
    "sender": {"jid": "4915112345678:73@s.whatsapp.net", "phone": "+4915112345678", "push_name": ""},
    "content": {"text": "Your order 1042 has shipped.", "link_preview": False}, "media": None, "reply_to": None,
    "target": None, "wa_id": "", "status": "queued", "failure_reason": "", "reactions": {},
    "created_at": "2026-11-24T21:53:27.967479Z", "timestamp": None, "sent_at": None, "delivered_at": None,
    "read_at": None, "expires_at": "2026-11-25T01:53:27.967035Z", "edited_at": None, "revoked_at": None,
}  # fmt: skip

_NOT_CONNECTED = "the session is not connected"
_WORKER_REFUSALS = {
    "not_connected": "the worker says the session's connection to WhatsApp is down",
    "not_running": "the session is (re)starting on its worker; try again in a moment",
    "unsupported": "the session's engine cannot do this yet",
    "timeout": "WhatsApp did not answer in time; it may still act on it",
}


def _chat_action(
    summary: str, description: str, request: Any, answer: tuple[int, Any], *, recipients: bool
) -> Callable[[Any], Any]:
    responses: dict[Any, Any] = {
        answer[0]: answer[1],
        409: error(
            "The session cannot do this now. Besides these codes, WhatsApp's refusals come with codes of their own "
            "(e.g. `mark_read_failed`, `check_failed`, `presence_failed`).",
            session_not_connected=_NOT_CONNECTED,
            **_WORKER_REFUSALS,
        ),
        503: WORKER_UNAVAILABLE,
    }
    if recipients:
        responses[400] = error(
            "The request is not valid.", invalid_recipient="a number is not a valid phone number (or JID)"
        )
    return extend_schema(summary=summary, description=description, request=request, responses=responses)


message_list = extend_schema(
    summary="List a session's messages",
    description="The session's messages, sent and received, newest first, a page at a time (follow `next`). "
    "Unknown `direction` or `status` values are ignored rather than refused.",
    parameters=[
        OpenApiParameter("chat", str, description="Only this chat: its exact `chat_jid`."),
        OpenApiParameter("direction", str, description="`in` (received) or `out` (sent)."),
        OpenApiParameter(
            "status", str, description="`queued`, `sent`, `delivered`, `read`, `played`, `failed` or `received`."
        ),
        OpenApiParameter("since", OpenApiTypes.DATETIME, description="Stored at or after this time (ISO 8601)."),
        OpenApiParameter("until", OpenApiTypes.DATETIME, description="Stored before this time (ISO 8601)."),
    ],
    responses={
        200: MessageSerializer(many=True),
        400: error(
            "The request is not valid.",
            validation_error="`since` or `until` is not an ISO 8601 time, or a parameter holds a NUL character",
        ),
    },
)
message_send = extend_schema(
    summary="Send a message",
    description="Checks and stores the message, answers `202` with its id and status `queued`, and the session's "
    "worker sends it, in order, paced by the session's `send_rate_per_minute`. Statuses then move to `sent`, "
    "`delivered` and `read` (follow them with GET /messages/{id} or `message.status` events). A refused request "
    "stores nothing. A session that is not connected still accepts messages: they wait until it connects or "
    "they expire (`expires_in`). Media come as `media.url` (fetched by Switchboard from a public address), "
    "`media.base64`, or a multipart upload in `file`. With an `Idempotency-Key`, a retry with the same key and "
    "request answers the first answer again and sends nothing new.",
    request={
        "application/json": MessageSendSerializer,
        "multipart/form-data": MessageUploadSerializer,
        "application/x-www-form-urlencoded": MessageSendSerializer,
    },
    parameters=[
        OpenApiParameter(
            "Idempotency-Key",
            str,
            OpenApiParameter.HEADER,
            description="1 to 200 characters, unique per message you mean to send (e.g. `order-1042-shipped`): the "
            "same key within 24 hours answers the first answer again instead of sending twice.",
        )
    ],
    examples=[
        *[
            OpenApiExample(name, summary=summary, value={"to": TO, **body}, request_only=True)
            for name, summary, body in _SEND_EXAMPLES
        ],
        OpenApiExample("queued", summary="Queued", value=_QUEUED, response_only=True, status_codes=["202"]),
    ],
    responses={
        202: MessageSerializer,
        400: error(
            "The request is not valid.",
            invalid_recipient="`to` or a mention is not a valid phone number or JID",
            media_missing="a media type without `media.url`, `media.base64` or a file",
            media_empty="the file is empty",
            invalid_base64="`media.base64` is not valid base64",
            media_type_mismatch="the declared type disagrees with the bytes, or this message type does not accept it",
            media_url_forbidden="the URL is not http(s), carries credentials or resolves to a non-public address",
            media_url_unreachable="the download failed, timed out, or answered other than 200",
            reply_not_found="`reply_to` is not a message of this session",
            target_not_found="the reaction's `message_id` or the `target` is not a message of this session",
            not_own_message="an edit or delete of a message this session did not send",
            target_in_other_chat="`to` is not the chat of the message referred to",
            invalid_idempotency_key="the Idempotency-Key is longer than 200 characters, or holds a NUL character",
        ),
        409: error(
            "The message cannot be sent now.",
            session_logged_out="the session is logged out; link it again first",
            idempotency_in_flight="the first request with this Idempotency-Key is still being handled; retry shortly",
        ),
        413: error("The request is too large.", media_too_large="the media is larger than the deployment allows"),
        422: error(
            "The Idempotency-Key was used for another request.",
            idempotency_key_reused="the key was used with a different request within 24 hours",
        ),
    },
)
message_retrieve = extend_schema(
    summary="Get a message",
    description="One message of the workspace, sent or received, with its current status and the reactions, edits "
    "and deletes it has had.",
)
message_media = extend_schema(
    summary="Download a message's media",
    description="The message's file (image, video, audio, voice note, document or sticker) as an attachment, with "
    "its own content type and file name.",
    responses={
        (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file, with its own content type."),
        404: error(
            "Not found.",
            no_media="the message has no media",
            media_unavailable="the message names media that its storage does not hold (any more)",
        ),
    },
)
chat_list = extend_schema(
    summary="List a session's chats",
    description="The session's 200 most recently active chats, newest first (not paginated), each with its unread "
    "count (received messages not yet marked read) and its last message.",
    responses=ChatListSerializer,
)
mark_read = _chat_action(
    "Mark messages as read",
    "Sends read receipts for up to 1,000 received messages (the sender sees them as read) and clears them from "
    "`unread`. Ids that are not received messages of this session are skipped. The session must be connected.",
    MarkReadSerializer,
    (200, MarkedReadSerializer),
    recipients=False,
)
check_numbers = _chat_action(
    "Check which numbers are on WhatsApp",
    "For up to 100 phone numbers (with their country code), whether each has a WhatsApp account and its JID. The "
    "session must be connected.",
    CheckNumbersSerializer,
    (200, NumberChecksSerializer),
    recipients=True,
)
presence = _chat_action(
    "Show typing or recording",
    "Shows the chat `to` that the account is typing (`composing`), recording audio (`recording`), or has stopped "
    "(`paused`). The session must be connected; the answer comes once the worker has sent it.",
    PresenceSerializer,
    (202, AcceptedSerializer),
    recipients=True,
)
