"""Sending: validate everything first (nothing is stored for a bad request), store the message as queued with its
id, and hand it to the outbox after commit. Retries reuse the id, and workers send an id at most once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from paas.api.errors import APIError, Conflict
from sessions_app.models import (
    MEDIA_TYPES,
    Direction,
    Message,
    MessageStatus,
    MessageType,
    SessionState,
    WhatsAppSession,
)
from sessions_app.services.messages import media as media_service
from sessions_app.services.messages.outbox import dispatch_after_commit
from sessions_app.services.messages.recipients import to_jid, user_jid


def _own_message(session: WhatsAppSession, message_id: Any, field: str, key: str | None = None) -> Message:
    message = Message.objects.filter(session=session, pk=message_id).first() if message_id else None
    if message is None:
        raise APIError(
            f"{field}_not_found", f"No message {message_id} in this session.", details={key or field: ["Not found."]}
        )
    return message


def message_send(*, session: WhatsAppSession, data: dict[str, Any], upload: Any = None) -> Message:
    """``data`` is the validated request (see MessageSendSerializer); ``upload`` an uploaded file, if any."""
    if session.state == SessionState.LOGGED_OUT:
        raise Conflict("session_logged_out", "The session is logged out; link it again before sending.")
    kind = data["type"]
    chat_jid = to_jid(data["to"], sandbox=session.is_sandbox)
    content: dict[str, Any] = {}
    reply_to = target = None
    found: media_service.Media | None = None

    if kind == MessageType.TEXT:
        content = {"text": data["text"], "link_preview": data.get("link_preview", False)}
    elif kind in MEDIA_TYPES:
        found = _media(kind, data, upload)
        content = {"caption": data.get("caption", "")} if kind not in (MessageType.STICKER, MessageType.VOICE) else {}
    elif kind == MessageType.LOCATION:
        content = {"location": data["location"]}
    elif kind == MessageType.CONTACT:
        content = {"contact": data["contact"]}
    elif kind == MessageType.REACTION:
        target = _own_message(session, data["reaction"]["message_id"], "target")
        content = {"emoji": data["reaction"]["emoji"]}
    elif kind in (MessageType.EDIT, MessageType.DELETE):
        target = _own_message(session, data["target"], "target")
        if target.direction != Direction.OUTBOUND:
            raise APIError("not_own_message", "Only messages this session sent can be edited or deleted.")
        content = {"text": data.get("text", "")} if kind == MessageType.EDIT else {}
    if data.get("reply_to"):
        reply_to = _own_message(session, data["reply_to"], "reply", "reply_to")
    if data.get("mentions"):
        content["mentions"] = [to_jid(m, sandbox=session.is_sandbox) for m in data["mentions"]]
    if target is not None and target.chat_jid != chat_jid:
        raise APIError("target_in_other_chat", "The message referred to is in another chat.")

    expires_in = data.get("expires_in") or settings.MESSAGE_EXPIRY_SECONDS
    message = Message(
        workspace_id=session.workspace_id,
        session=session,
        direction=Direction.OUTBOUND,
        type=kind,
        chat_jid=chat_jid,
        sender_jid=user_jid(session.jid),
        sender_phone=session.phone,
        content=content,
        reply_to=reply_to,
        target=target,
        status=MessageStatus.QUEUED,
        expires_at=timezone.now() + timedelta(seconds=expires_in),
        next_attempt_at=timezone.now(),
    )
    if found is not None:
        message.media_path = media_service.store(found, session_id=session.pk, message_id=message.pk)
        message.media_mime, message.media_size = found.mime, len(found.data)
        message.media_sha256, message.media_filename = found.sha256, found.filename
    message.save(force_insert=True)
    # One INSERT, in autocommit: an explicit transaction would add BEGIN and COMMIT round trips to every send. The
    # hand-over runs once the row is committed (inside a caller's transaction, once that commits).
    dispatch_after_commit(session.pk)
    return message


def _media(kind: str, data: dict[str, Any], upload: Any) -> media_service.Media:
    spec = data.get("media") or {}
    declared = spec.get("mime_type", "")
    filename = spec.get("filename", "")
    if upload is not None:
        raw = upload.read(settings.MEDIA_MAX_BYTES + 1)
        declared = declared or (upload.content_type or "")
        filename = filename or upload.name or ""
    elif spec.get("base64"):
        raw = media_service.decode_base64(spec["base64"])
    elif spec.get("url"):
        raw, served = media_service.fetch_url(spec["url"])
        declared = declared or ("" if served in ("application/octet-stream", "") else served)
        filename = filename or spec["url"].rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    else:
        raise APIError("media_missing", f"A {kind} message needs media: media.url, media.base64 or a file upload.")
    return media_service.check(kind, raw, declared, filename)
