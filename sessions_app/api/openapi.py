"""What /api/schema/ says about the sessions API: summaries, descriptions for customers, every answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema

from paas.schema import error
from sessions_app.api.serializers import (
    PairingCodeRequestSerializer,
    PairingCodeSerializer,
    QRCodeSerializer,
    SandboxScanSerializer,
    SessionCreateSerializer,
    SessionUpdateSerializer,
)
from sessions_app.services.sessions.payloads import SessionSerializer

# Commands the gateway must hand to the session's worker and wait for.
WORKER_UNAVAILABLE = error(
    "The worker running the session cannot be reached right now; try again shortly.",
    worker_unavailable="the worker did not answer",
)
_WORKER_REFUSED = "the worker refused: the session is (re)starting there; try again in a moment"

session_list = extend_schema(
    summary="List sessions",
    description="The workspace's WhatsApp sessions, newest first, a page at a time (follow `next`).",
)
session_create = extend_schema(
    summary="Create a session",
    description="Creates a session and, unless `start` is false, places it on a worker at once: it then shows QR "
    "codes (`scan_qr`) to link a phone. With `pairing_method: code` and `pairing_phone` it asks for a pairing code "
    "by itself instead. Nothing is created when the request is refused.",
    request=SessionCreateSerializer,
    responses={201: SessionSerializer},
    examples=[
        OpenApiExample(
            "Linked by QR code", value={"name": "Support line", "metadata": {"team": "support"}}, request_only=True
        ),
        OpenApiExample(
            "Linked by pairing code",
            value={"name": "Sales", "pairing_method": "code", "pairing_phone": "+4915112345678"},
            request_only=True,
        ),
        OpenApiExample(
            "A sandbox session, created stopped",
            value={"name": "Tests", "engine": "sandbox", "start": False},
            request_only=True,
        ),
    ],
)
session_retrieve = extend_schema(
    summary="Get a session",
    description="One session: its state (and why), the linked account, the current QR code's expiry or the pending "
    "pairing code. Poll it to follow a session, or receive `session.status` events.",
)
session_update = extend_schema(
    summary="Update a session",
    description="Changes `name`, `metadata` (replaced as a whole) or `send_rate_per_minute` (`null`: the "
    "deployment's default). The session keeps running.",
    request=SessionUpdateSerializer,
    responses=SessionSerializer,
)
session_delete = extend_schema(
    summary="Delete a session",
    description="Deletes the session, its messages and its stored login. A session linked and online is logged out "
    "at WhatsApp first, so it also leaves the phone's Linked devices; any other is only forgotten here.",
)


def _action(summary: str, description: str, **conflicts: str) -> Callable[[Any], Any]:
    return extend_schema(
        summary=summary,
        description=f"{description} Answers with the session as it is right after the request.",
        request=None,
        responses={202: SessionSerializer, 409: error("The session's state does not allow this.", **conflicts)},
    )


session_start = _action(
    "Start a session",
    "Runs a stopped, failed or logged-out session on a worker; a logged-out one shows a new QR code.",
    session_running="it is already running (or waiting for a worker)",
)
session_stop = _action(
    "Stop a session",
    "Stops the session and keeps its login, so starting it resumes without a new QR code. The worker confirms a "
    "moment later (state `stopped`). Messages sent meanwhile wait in its outbox.",
    session_not_running="it is already stopped (or stopping, logged out, failed)",
)
session_restart = _action(
    "Restart a session",
    "Starts the session afresh on a worker (possibly another one); a stopped session starts too.",
    session_logged_out="it is logged out: start it instead, to link it again",
)
session_logout = _action(
    "Log a session out",
    "Unlinks the WhatsApp account: the session becomes `logged_out`, `account` is cleared and the stored login "
    "deleted. A running session is logged out at WhatsApp too; otherwise remove it on the phone as well.",
    session_not_linked="no account is linked",
)

_NO_QR = error("There is no QR code to show now.", no_qr_code="the session is not waiting for a QR scan")
_QR_TEXT = (
    "While the session is `scan_qr`, show this code to the person linking the phone (WhatsApp → Linked devices → "
    "Link a device). Codes rotate: fetch again after `expires_at`, or when the session's `qr_expires_at` changes."
)
session_qr = extend_schema(
    summary="Get the QR code",
    description=f"The current QR code's payload and expiry. {_QR_TEXT}",
    responses={200: QRCodeSerializer, 409: _NO_QR},
)
session_qr_png = extend_schema(
    summary="Get the QR code as PNG",
    description=f"The current QR code as a PNG image, ready for an `<img>` (never cached). {_QR_TEXT}",
    responses={(200, "image/png"): OpenApiTypes.BINARY, 409: _NO_QR},
)
session_qr_svg = extend_schema(
    summary="Get the QR code as SVG",
    description=f"The current QR code as an SVG image, ready for an `<img>` (never cached). {_QR_TEXT}",
    responses={(200, "image/svg+xml"): OpenApiTypes.STR, 409: _NO_QR},
)
session_pairing_code = extend_schema(
    summary="Request a pairing code",
    description="Instead of scanning, the person can type a code: WhatsApp → Linked devices → Link a device → Link "
    "with phone number instead. Ask while the session shows its QR code, giving the number being linked; the "
    "session moves to `pairing_code` with the code in `pairing_code`. Sandbox sessions accept sandbox numbers.",
    request=PairingCodeRequestSerializer,
    responses={
        200: PairingCodeSerializer,
        409: error(
            "The session cannot be paired now.",
            session_not_pairing="the session is not showing a QR code or pairing code",
            not_pairing="the worker says pairing has ended",
            not_ready="still connecting to WhatsApp; try again in a moment",
            pair_phone_failed="WhatsApp refused the pairing request",
            pair_phone_timeout="WhatsApp did not answer in time",
            invalid_phone="WhatsApp's check of the number failed",
            not_running=_WORKER_REFUSED,
        ),
        503: WORKER_UNAVAILABLE,
    },
)
session_sandbox_scan = extend_schema(
    summary="Scan the QR code with a sandbox phone",
    description='Sandbox sessions only: a sandbox phone "scans" the current QR code (or, without `phone` after a '
    "pairing code was requested, types that code), and the session becomes `connected` a moment later. `phone` "
    "is the sandbox number that links (random if omitted).",
    request=SandboxScanSerializer,
    responses={
        202: SessionSerializer,
        404: error("Not found.", not_found="no such session in this workspace, or it is not a sandbox session"),
        409: error(
            "The session cannot be linked now.",
            session_not_pairing="the session is not waiting to be linked",
            session_not_running="no worker runs the session",
            not_pairing="the worker says pairing has ended",
            not_running=_WORKER_REFUSED,
        ),
        503: WORKER_UNAVAILABLE,
    },
)
