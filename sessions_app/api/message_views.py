"""The messages API: send, history, chats, media, read receipts, number checks and typing presence."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.utils import extend_schema_view
from rest_framework import generics, status
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
    MessageFilterSerializer,
    MessageSendSerializer,
    PresenceSerializer,
)
from sessions_app.models import Message, WhatsAppSession
from sessions_app.selectors import chat_list, message_list, workspace_session
from sessions_app.services.messages.chat_actions import message_mark_read, number_check, presence_send
from sessions_app.services.messages.media import attachment_name, open_stored
from sessions_app.services.messages.payloads import MessageSerializer, message_data
from sessions_app.services.messages.send_request import message_send_request


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
        filters = MessageFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return message_list(session=self.session(), **filters.validated_data)

    @openapi.message_list
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @openapi.message_send
    def post(self, request: Request, pk: str) -> Response:
        session = self.session()
        data = _send_data(request)
        form = MessageSendSerializer(data=data, context={"has_upload": "file" in request.FILES})
        form.is_valid(raise_exception=True)
        code, body = message_send_request(
            workspace=request_workspace(request), session=session, request_data=data, validated=form.validated_data,
            upload=request.FILES.get("file"), idempotency_key=request.headers.get("Idempotency-Key"),
        )  # fmt: skip
        return Response(body, status=code)


def _send_data(request: Request) -> Any:
    if request.content_type.startswith("multipart/"):
        # Multipart: fields are flat; media options come as media.mime_type / media.filename.
        data: dict[str, Any] = {k: v for k, v in request.data.items() if k != "file" and not k.startswith("media.")}
        media = {k.split(".", 1)[1]: v for k, v in request.data.items() if k.startswith("media.")}
        if media:
            data["media"] = media
        return data
    return request.data


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
        result = [
            {"chat_jid": chat_jid, "unread": unread, "last_message": message_data(last)}
            for chat_jid, unread, last in chat_list(session=self.session())
        ]
        return Response({"results": result})


class MarkReadView(SessionScopedMixin, APIView):
    required_scopes = {"POST": Scope.MESSAGES_SEND}

    @openapi.mark_read
    def post(self, request: Request, pk: str) -> Response:
        form = MarkReadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        marked = message_mark_read(session=self.session(), message_ids=form.validated_data["message_ids"])
        return Response({"marked": [str(m.pk) for m in marked]})


class CheckNumbersView(SessionScopedMixin, APIView):
    required_scopes = {"POST": Scope.MESSAGES_READ}

    @openapi.check_numbers
    def post(self, request: Request, pk: str) -> Response:
        form = CheckNumbersSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return Response({"results": number_check(session=self.session(), phones=form.validated_data["phones"])})


class PresenceView(SessionScopedMixin, APIView):
    required_scopes = {"POST": Scope.MESSAGES_SEND}

    @openapi.presence
    def post(self, request: Request, pk: str) -> Response:
        form = PresenceSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        presence_send(session=self.session(), to=form.validated_data["to"], state=form.validated_data["state"])
        return Response({"ok": True}, status=status.HTTP_202_ACCEPTED)
