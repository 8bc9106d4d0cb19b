"""The worker API under /internal/v1/: registration, heartbeats and event ingest."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from paas.api.parsers import ReplacingJSONParser
from paas.no_store import no_store
from sessions_app.services.worker_events.ingest import ingest_events
from workers_app.api.authentication import WorkerTokenAuthentication
from workers_app.api.serializers import EventBatchSerializer, HeartbeatSerializer, RegisterSerializer
from workers_app.models import Worker
from workers_app.services.enrollment import (
    WorkerProfile,
    worker_authenticate,
    worker_register,
    worker_reregister,
    worker_shutdown,
)
from workers_app.services.heartbeat import worker_heartbeat


class InternalView(APIView):
    authentication_classes = [WorkerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list[Any] = []
    large_bodies = True  # a heartbeat lists every session, an event batch carries up to 1,000 messages

    @property
    def worker(self) -> Worker:
        worker: Worker = self.request.auth  # type: ignore[assignment]
        return worker


@extend_schema(exclude=True)
@no_store  # a new worker's answer carries its token
class RegisterView(APIView):
    """New workers present an enrollment token; a restarted one presents its own worker token instead."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def post(self, request: Request) -> Response:
        form = RegisterSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        profile = WorkerProfile(
            name=data["name"],
            advertise_url=data["advertise_url"],
            engine=data["engine"],
            capacity=data["capacity"],
            version=data["version"],
        )
        bearer = request.headers.get("Authorization", "")
        if bearer.lower().startswith("bearer "):
            registration = worker_reregister(worker=worker_authenticate(bearer[7:].strip()), profile=profile)
        else:
            registration = worker_register(enrollment_token=data.get("enrollment_token", ""), profile=profile)
        # Placing waiting sessions is left to the first heartbeat, a moment later: registration answers fast.
        body: dict[str, Any] = {
            "worker_id": str(registration.worker.pk),
            "heartbeat_interval": settings.WORKER_HEARTBEAT_SECONDS,
        }
        if registration.raw_token:
            body["worker_token"] = registration.raw_token
        return Response(body, status=status.HTTP_201_CREATED if registration.raw_token else status.HTTP_200_OK)


@extend_schema(exclude=True)
class HeartbeatView(InternalView):
    def post(self, request: Request) -> Response:
        form = HeartbeatSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        answer = worker_heartbeat(
            worker=self.worker,
            load=data["load"],
            stored=[str(session_id) for session_id in data["stored"]],
            running=[str(item["id"]) for item in data["sessions"]],
        )
        return Response(
            {"sessions": answer.sessions, "forget": answer.forget, "heartbeat_interval": answer.heartbeat_interval}
        )


@extend_schema(exclude=True)
class EventsView(InternalView):
    # Events relay what WhatsApp users sent: a NUL in a message becomes U+FFFD rather than refusing the whole batch.
    parser_classes = [ReplacingJSONParser]

    def post(self, request: Request) -> Response:
        form = EventBatchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        result = ingest_events(worker=self.worker, events=form.validated_data["events"])
        return Response({"accepted": result.accepted, "duplicates": result.duplicates, "rejected": result.rejected})


@extend_schema(exclude=True)
class ShutdownView(InternalView):
    def post(self, request: Request) -> Response:
        worker_shutdown(worker=self.worker)
        return Response({"ok": True})
