"""The sessions API: /api/v1/sessions and their lifecycle actions, QR codes and pairing codes."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import segno
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Scope
from paas.api.errors import Conflict
from paas.api.scoping import WorkspaceScopedAPIMixin, request_workspace
from paas.no_store import no_store
from sessions_app.api import openapi
from sessions_app.api.serializers import (
    PairingCodeRequestSerializer,
    PairingCodeSerializer,
    QRCodeSerializer,
    SandboxScanSerializer,
    SessionCreateSerializer,
    SessionUpdateSerializer,
)
from sessions_app.models import WhatsAppSession
from sessions_app.services.sessions import lifecycle
from sessions_app.services.sessions.payloads import SessionSerializer

READ_WRITE = {"GET": Scope.SESSIONS_READ, "*": Scope.SESSIONS_WRITE}


@extend_schema_view(get=openapi.session_list)
class SessionListCreateView(WorkspaceScopedAPIMixin, generics.ListAPIView[WhatsAppSession]):
    queryset = WhatsAppSession.objects.all()
    serializer_class = SessionSerializer
    required_scopes = READ_WRITE

    @openapi.session_create
    def post(self, request: Request) -> Response:
        form = SessionCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        session = lifecycle.session_create(workspace=request_workspace(request), **form.validated_data)
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


@extend_schema_view(get=openapi.session_retrieve, delete=openapi.session_delete)
class SessionDetailView(WorkspaceScopedAPIMixin, generics.RetrieveDestroyAPIView[WhatsAppSession]):
    queryset = WhatsAppSession.objects.all()
    serializer_class = SessionSerializer
    required_scopes = READ_WRITE

    @openapi.session_update
    def patch(self, request: Request, pk: str) -> Response:
        form = SessionUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        session = lifecycle.session_update(session=self.get_object(), **form.validated_data)
        return Response(SessionSerializer(session).data)

    def perform_destroy(self, instance: WhatsAppSession) -> None:
        lifecycle.session_delete(session=instance)


class SessionActionView(WorkspaceScopedAPIMixin, generics.GenericAPIView[WhatsAppSession]):
    """POST start / stop / restart / logout; each answers 409 with a stable code when the state does not allow it."""

    queryset = WhatsAppSession.objects.all()
    serializer_class = SessionSerializer
    required_scopes = {"*": Scope.SESSIONS_WRITE}
    action_name = ""
    actions: dict[str, Callable[..., WhatsAppSession]] = {
        "start": lifecycle.session_start,
        "stop": lifecycle.session_stop,
        "restart": lifecycle.session_restart,
        "logout": lifecycle.session_logout,
    }

    def post(self, request: Request, pk: str) -> Response:
        session = self.actions[self.action_name](session=self.get_object())
        session.refresh_from_db()
        return Response(SessionSerializer(session).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(post=openapi.session_start)
class SessionStartView(SessionActionView):
    action_name = "start"


@extend_schema_view(post=openapi.session_stop)
class SessionStopView(SessionActionView):
    action_name = "stop"


@extend_schema_view(post=openapi.session_restart)
class SessionRestartView(SessionActionView):
    action_name = "restart"


@extend_schema_view(post=openapi.session_logout)
class SessionLogoutView(SessionActionView):
    action_name = "logout"


@no_store  # a QR code links a phone to the session while it is valid
@extend_schema_view(get=openapi.session_qr)
class SessionQRView(WorkspaceScopedAPIMixin, generics.GenericAPIView[WhatsAppSession]):
    """The current QR code: JSON (raw code and expiry), PNG or SVG."""

    queryset = WhatsAppSession.objects.all()
    serializer_class = QRCodeSerializer
    required_scopes = {"GET": Scope.SESSIONS_READ}
    image_format = "json"

    def get(self, request: Request, pk: str) -> Any:
        session = self.get_object()
        if not session.qr_code:
            raise Conflict("no_qr_code", f"There is no QR code to scan now (the session is {session.state}).")
        if self.image_format == "json":
            return Response({"code": session.qr_code, "expires_at": session.qr_expires_at})
        qr = segno.make_qr(session.qr_code, error="l")
        out = io.BytesIO()
        if self.image_format == "png":
            qr.save(out, kind="png", scale=6, border=2)
            content_type = "image/png"
        else:
            qr.save(out, kind="svg", scale=6, border=2, xmldecl=False)
            content_type = "image/svg+xml"
        return HttpResponse(out.getvalue(), content_type=content_type)


@extend_schema_view(get=openapi.session_qr_png)
class SessionQRPNGView(SessionQRView):
    image_format = "png"


@extend_schema_view(get=openapi.session_qr_svg)
class SessionQRSVGView(SessionQRView):
    image_format = "svg"


@no_store  # as a QR code: the code links a phone
class PairingCodeView(WorkspaceScopedAPIMixin, generics.GenericAPIView[WhatsAppSession]):
    queryset = WhatsAppSession.objects.all()
    serializer_class = PairingCodeSerializer
    required_scopes = {"*": Scope.SESSIONS_WRITE}

    @openapi.session_pairing_code
    def post(self, request: Request, pk: str) -> Response:
        session = self.get_object()
        form = PairingCodeRequestSerializer(data=request.data, context={"sandbox": session.is_sandbox})
        form.is_valid(raise_exception=True)
        phone = form.validated_data["phone"]
        code = lifecycle.session_request_pairing_code(session=session, phone=phone)
        return Response({"code": code, "phone": phone})


class SandboxScanView(WorkspaceScopedAPIMixin, generics.GenericAPIView[WhatsAppSession]):
    """Sandbox sessions only: a sandbox phone "scans" the QR (or types the pairing code), and the session pairs."""

    queryset = WhatsAppSession.objects.all()
    serializer_class = SandboxScanSerializer
    required_scopes = {"*": Scope.SESSIONS_WRITE}

    @openapi.session_sandbox_scan
    def post(self, request: Request, pk: str) -> Response:
        session = self.get_object()
        form = SandboxScanSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        lifecycle.sandbox_command(session=session, command="scan", payload=dict(form.validated_data))
        session.refresh_from_db()
        return Response(SessionSerializer(session).data, status=status.HTTP_202_ACCEPTED)
