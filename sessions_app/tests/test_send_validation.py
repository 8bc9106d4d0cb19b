"""POST /api/v1/sessions/{id}/messages: bad input is refused with a 4xx and a stable code, and nothing is stored for
it (no message row, no media object)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Membership, Workspace
from paas.tests.local_http import LocalHTTPServer, Route
from sessions_app.models import Message, SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.message_helpers import MP4, OGG, PDF, PEER_PHONE, PNG, MessageFactory, b64, png_of, stored_under
from workers_app.models import Engine
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db
LIMIT = 2048


@pytest.fixture
def session(workspace: Workspace) -> WhatsAppSession:
    session: WhatsAppSession = SessionFactory.create(workspace=workspace, state=SessionState.CONNECTED)
    return session


@pytest.fixture(autouse=True)
def nothing_stored() -> Iterator[None]:
    """Every test here sends something bad: afterwards there is no new message and no new media object."""
    messages, media = Message.objects.count(), stored_under("media")
    yield
    assert Message.objects.count() == messages
    assert stored_under("media") == media


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


def send(client: APIClient, session: WhatsAppSession, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/sessions/{session.pk}/messages", body, format="json")


@pytest.mark.parametrize("to", ["12345", "+1 555", "+999 123 4567", "call me maybe", "+49 151 1234 5678 9999 9999"])
def test_a_phone_number_that_is_not_one_is_an_invalid_recipient(
    client: APIClient, session: WhatsAppSession, to: str
) -> None:
    error = assert_api_error(send(client, session, {"to": to, "text": "hi"}), 400, "invalid_recipient")

    assert "to" in error["details"]


def test_a_real_session_refuses_a_number_that_is_possible_but_not_valid(
    workspace: Workspace, client: APIClient
) -> None:
    # Sandbox numbers (+1 555 01xx xxxx) are only "possible" numbers; a real WhatsApp session wants valid ones.
    real = SessionFactory.create(workspace=workspace, engine=Engine.NEONIZE, state=SessionState.CONNECTED)

    assert_api_error(send(client, real, {"to": PEER_PHONE, "text": "hi"}), 400, "invalid_recipient")


@pytest.mark.parametrize(
    "to", ["abc@example.com", "123@broadcast", "status@broadcast", "15550100002@s.whatsapp.net.evil", "@g.us", "1@lid"]
)
def test_a_jid_of_unknown_shape_is_an_invalid_recipient(client: APIClient, session: WhatsAppSession, to: str) -> None:
    assert_api_error(send(client, session, {"to": to, "text": "hi"}), 400, "invalid_recipient")


def test_private_network_targets_are_not_allowed_in_tests_by_default() -> None:
    assert settings.ALLOW_PRIVATE_NETWORK_TARGETS is False


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://10.0.0.1/x.png",
        "http://192.168.1.1/x.png",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://localhost/x.png",
    ],
)
def test_a_media_url_to_a_private_or_loopback_address_is_forbidden(
    client: APIClient, session: WhatsAppSession, url: str
) -> None:
    response = send(client, session, {"to": PEER_PHONE, "type": "image", "media": {"url": url}})

    assert_api_error(response, 400, "media_url_forbidden")


@override_settings(MEDIA_MAX_BYTES=LIMIT)
def test_base64_media_over_the_size_limit_is_too_large(client: APIClient, session: WhatsAppSession) -> None:
    body = {"to": PEER_PHONE, "type": "image", "media": {"base64": b64(png_of(LIMIT + 1))}}

    assert_api_error(send(client, session, body), 413, "media_too_large")


@override_settings(MEDIA_MAX_BYTES=LIMIT)
def test_an_uploaded_file_over_the_size_limit_is_too_large(client: APIClient, session: WhatsAppSession) -> None:
    upload = SimpleUploadedFile("big.png", png_of(LIMIT + 1), content_type="image/png")

    response = client.post(
        f"/api/v1/sessions/{session.pk}/messages",
        {"to": PEER_PHONE, "type": "image", "file": upload},
        format="multipart",
    )

    assert_api_error(response, 413, "media_too_large")


@override_settings(MEDIA_MAX_BYTES=LIMIT, ALLOW_PRIVATE_NETWORK_TARGETS=True)
def test_a_media_url_announcing_a_body_over_the_limit_is_too_large(
    client: APIClient, session: WhatsAppSession, server: LocalHTTPServer
) -> None:
    server.routes["/big.png"] = Route(body=PNG, headers={"Content-Type": "image/png"}, content_length=LIMIT * 100)

    response = send(client, session, {"to": PEER_PHONE, "type": "image", "media": {"url": server.url("/big.png")}})

    assert_api_error(response, 413, "media_too_large")
    assert [seen.path for seen in server.requests] == ["/big.png"]


@override_settings(MEDIA_MAX_BYTES=LIMIT, ALLOW_PRIVATE_NETWORK_TARGETS=True)
def test_a_media_url_streaming_a_body_over_the_limit_is_too_large(
    client: APIClient, session: WhatsAppSession, server: LocalHTTPServer
) -> None:
    server.routes["/big.png"] = Route(body=png_of(LIMIT * 10), headers={"Content-Type": "image/png"}, chunked=True)

    response = send(client, session, {"to": PEER_PHONE, "type": "image", "media": {"url": server.url("/big.png")}})

    assert_api_error(response, 413, "media_too_large")


@pytest.mark.parametrize("text", ["not base64!!", "QUJ", "data:image/png;base64,@@@@", "QUJD\nRA=="])
def test_base64_that_does_not_decode_is_refused(client: APIClient, session: WhatsAppSession, text: str) -> None:
    body = {"to": PEER_PHONE, "type": "document", "media": {"base64": text}}

    assert_api_error(send(client, session, body), 400, "invalid_base64")


@pytest.mark.parametrize(
    ("kind", "data", "declared"),
    [
        pytest.param("document", PDF, "image/png", id="declared-png-but-pdf"),
        pytest.param("image", PDF, None, id="image-that-is-a-pdf"),
        pytest.param("sticker", PNG, None, id="sticker-that-is-a-png"),
        pytest.param("voice", MP4, None, id="voice-that-is-a-video"),
        pytest.param("audio", OGG, "audio/mpeg", id="declared-mp3-but-ogg"),
        pytest.param("image", b"just some text, no picture", "image/png", id="image-of-unknown-bytes"),
    ],
)
def test_media_that_is_not_what_it_claims_is_a_type_mismatch(
    client: APIClient, session: WhatsAppSession, kind: str, data: bytes, declared: str | None
) -> None:
    media = {"base64": b64(data), **({"mime_type": declared} if declared else {})}

    response = send(client, session, {"to": PEER_PHONE, "type": kind, "media": media})

    assert_api_error(response, 400, "media_type_mismatch")


def test_a_reply_to_a_message_that_does_not_exist_is_refused(client: APIClient, session: WhatsAppSession) -> None:
    body = {"to": PEER_PHONE, "text": "re", "reply_to": str(uuid.uuid4())}

    error = assert_api_error(send(client, session, body), 400, "reply_not_found")
    assert "reply_to" in error["details"]


def test_a_reply_to_a_message_of_another_session_is_refused(
    workspace: Workspace, client: APIClient, session: WhatsAppSession
) -> None:
    elsewhere = MessageFactory.create(session=SessionFactory.create(workspace=workspace))
    body = {"to": PEER_PHONE, "type": "image", "media": {"base64": b64(PNG)}, "reply_to": str(elsewhere.pk)}

    assert_api_error(send(client, session, body), 400, "reply_not_found")
    elsewhere.delete()  # made by this test, not by the send


def test_sending_on_a_logged_out_session_is_a_conflict(workspace: Workspace, client: APIClient) -> None:
    gone = SessionFactory.create(workspace=workspace, state=SessionState.LOGGED_OUT)

    assert_api_error(send(client, gone, {"to": PEER_PHONE, "text": "hi"}), 409, "session_logged_out")


@pytest.mark.parametrize("body", [{"type": "text"}, {"type": "text", "text": ""}, {}])
def test_a_text_message_without_text_is_a_validation_error(
    client: APIClient, session: WhatsAppSession, body: dict[str, Any]
) -> None:
    error = assert_api_error(send(client, session, {"to": PEER_PHONE, **body}), 400, "validation_error")

    assert "text" in error["details"]


def test_another_workspaces_session_is_not_found(client: APIClient, outsider: Membership) -> None:
    theirs = SessionFactory.create(workspace=outsider.workspace, state=SessionState.CONNECTED)

    response = send(client, theirs, {"to": PEER_PHONE, "type": "image", "media": {"base64": b64(PNG)}})

    assert_api_error(response, 404, "not_found")
