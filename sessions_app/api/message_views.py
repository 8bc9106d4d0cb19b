"""The messages API: send, history, chats, media, read receipts, number checks and typing presence."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import Count, DateTimeField, Max, OuterRef, Q, Subquery
from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from paas.api.errors import APIError
from paas.api.scoping import WorkspaceScopedAPIMixin, request_workspace
from sessions_app.api import message_openapi as openapi
from sessions_app.api.message_serializers import (
    CheckNumbersSerializer,
    MarkReadSerializer,
    MessageSendSerializer,
    MessageSerializer,
    PresenceSerializer,
    message_data,
)
from sessions_app.models import Direction, Message, MessageStatus, WhatsAppSession
from sessions_app.selectors import workspace_session
from sessions_app.services import idempotency, messaging
from sessions_app.services.media import attachment_name, open_stored
from sessions_app.services.send import message_send


class SessionScopedMixin(WorkspaceScopedAPIMixin):
    def session(self) -> WhatsAppSession:
        view: Any = self  # a DRF view: request and kwargs come from it
        session = workspace_session(workspace=request_workspace(view.request), session_id=view.kwargs["pk"])
        if session is None:
            raise APIError("not_found", "No such session in this workspace.", status_code=404)
        return session


class SessionMessagesView(SessionScopedMixin, generics.ListAPIView[Message]):
    """GET: the session's messages (filter by chat, direction, status, time). POST: send one."""

    queryset = Message.objects.select_related("session")
    serializer_class = MessageSerializer
    required_scopes = {"GET": Scope.MESSAGES_READ, "POST": Scope.MESSAGES_SEND}
    large_bodies = True  # media as base64 or an upload (paas/api/parsers.py)

    def get_queryset(self) -> Any:
        messages = super().get_queryset().filter(session=self.session())
        params = self.request.query_params
        if params.get("chat"):
            messages = messages.filter(chat_jid=params["chat"])
        if params.get("direction") in Direction.values:
            messages = messages.filter(direction=params["direction"])
        if params.get("status") in MessageStatus.values:
            messages = messages.filter(status=params["status"])
        for name, lookup in (("since", "created_at__gte"), ("until", "created_at__lt")):
            if params.get(name):
                messages = messages.filter(**{lookup: _time_param(name, params[name])})
        return messages

    @openapi.message_list
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @openapi.message_send
    def post(self, request: Request, pk: str) -> Response:
        session = self.session()
        data = _send_data(request)
        form = MessageSendSerializer(data=data, context={"has_upload": "file" in request.FILES})
        form.is_valid(raise_exception=True)
        upload = request.FILES.get("file")

        def handle() -> tuple[int, Any]:
            message = message_send(session=session, data=form.validated_data, upload=upload)
            return status.HTTP_202_ACCEPTED, message_data(message)

        key = request.headers.get("Idempotency-Key")
        if key:
            # The request as parsed, so the same body in another key order or encoding counts as the same.
            parts = [str(session.pk).encode(), json.dumps(data, sort_keys=True, default=str).encode()]
            if upload:
                parts.append(upload.read())
                upload.seek(0)
            fingerprint = idempotency.body_hash(parts)
            replay = idempotency.run_once(
                workspace=request_workspace(request), key=key, fingerprint=fingerprint, handle=handle
            )
            code, body = replay.status, replay.body
        else:
            code, body = handle()
        wait = form.validated_data.get("wait")
        if wait:
            body = _wait_until_sent(body["id"], wait) or body
        return Response(body, status=code)


def _time_param(name: str, raw: str) -> datetime:
    """A ``since``/``until`` filter as an aware time in UTC: an ISO 8601 time (or a date, as midnight UTC). PostgreSQL
    takes offsets up to 15:59 only, Python up to 23:59, so the time goes to it in UTC; year 1 at +23:59 is none."""
    try:
        value = DateTimeField().to_python(raw)
        if timezone.is_naive(value):
            value = timezone.make_aware(value, UTC)
        return value.astimezone(UTC)
    except (DjangoValidationError, OverflowError, ValueError):
        raise ValidationError({name: ["Give an ISO 8601 time, e.g. 2026-03-01T12:00:00Z."]}) from None


def _send_data(request: Request) -> Any:
    if request.content_type.startswith("multipart/"):
        # Multipart: fields are flat; media options come as media.mime_type / media.filename.
        data: dict[str, Any] = {k: v for k, v in request.data.items() if k != "file" and not k.startswith("media.")}
        media = {k.split(".", 1)[1]: v for k, v in request.data.items() if k.startswith("media.")}
        if media:
            data["media"] = media
        return data
    return request.data


def _wait_until_sent(message_id: str, wait: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        message = Message.objects.get(pk=message_id)
        if message.status != MessageStatus.QUEUED:
            return message_data(message)
        if not connection.in_atomic_block:
            connection.close()  # back to the pool while waiting: waiting requests must not hold every connection
        time.sleep(0.05)
    return message_data(Message.objects.get(pk=message_id))


@extend_schema_view(get=openapi.message_retrieve)
class MessageDetailView(WorkspaceScopedAPIMixin, generics.RetrieveAPIView[Message]):
    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    required_scopes = {"GET": Scope.MESSAGES_READ}


class MessageMediaView(WorkspaceScopedAPIMixin, generics.GenericAPIView[Message]):
    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    required_scopes = {"GET": Scope.MESSAGES_READ}

    @openapi.message_media
    def get(self, request: Request, pk: str) -> Any:
        message = self.get_object()
        if not message.media_path:
            raise APIError("no_media", "This message has no media.", status_code=404)
        handle = open_stored(message.media_path)
        # FileResponse writes Content-Disposition with django.utils.http.content_disposition_header: filename*= when
        # the name is not ASCII, quotes and backslashes escaped otherwise.
        return FileResponse(
            handle, as_attachment=True, filename=attachment_name(message.media_filename),
            content_type=message.media_mime or "application/octet-stream",
        )  # fmt: skip


class ChatListView(SessionScopedMixin, APIView):
    required_scopes = {"GET": Scope.MESSAGES_READ}

    @openapi.chat_list
    def get(self, request: Request, pk: str) -> Response:
        session = self.session()
        newest = Message.objects.filter(session=session, chat_jid=OuterRef("chat_jid")).order_by("-created_at")
        chats = list(
            Message.objects.filter(session=session)
            .values("chat_jid")
            .annotate(
                last=Max("created_at"),
                unread=Count("pk", filter=Q(unread=True)),
                last_id=Subquery(newest.values("pk")[:1]),
            )
            .order_by("-last")[:200]
        )
        # The last message of every chat in one more query, not one per chat.
        last_messages = Message.objects.in_bulk([chat["last_id"] for chat in chats])
        result = [
            {"chat_jid": chat["chat_jid"], "unread": chat["unread"],
             "last_message": message_data(last_messages[chat["last_id"]])}
            for chat in chats
        ]  # fmt: skip
        return Response({"results": result})


class MarkReadView(SessionScopedMixin, APIView):
    required_scopes = {"POST": Scope.MESSAGES_SEND}

    @openapi.mark_read
    def post(self, request: Request, pk: str) -> Response:
        form = MarkReadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        marked = messaging.mark_read(session=self.session(), message_ids=form.validated_data["message_ids"])
        return Response({"marked": [str(m.pk) for m in marked]})


class CheckNumbersView(SessionScopedMixin, APIView):
    required_scopes = {"POST": Scope.MESSAGES_READ}

    @openapi.check_numbers
    def post(self, request: Request, pk: str) -> Response:
        form = CheckNumbersSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return Response(
            {"results": messaging.check_numbers(session=self.session(), phones=form.validated_data["phones"])}
        )


class PresenceView(SessionScopedMixin, APIView):
    required_scopes = {"POST": Scope.MESSAGES_SEND}

    @openapi.presence
    def post(self, request: Request, pk: str) -> Response:
        form = PresenceSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        messaging.send_presence(
            session=self.session(), to=form.validated_data["to"], state=form.validated_data["state"]
        )
        return Response({"ok": True}, status=status.HTTP_202_ACCEPTED)
