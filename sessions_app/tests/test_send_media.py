"""Media on send, by base64, URL or upload: checked, stored under media/<session>/<message>/ with its SHA-256 and real
MIME type, and described in the answer."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from paas.tests.local_http import LocalHTTPServer, Route
from sessions_app.models import Message, WhatsAppSession
from sessions_app.tests.message_helpers import PDF, PEER_PHONE, PNG, WEBP, b64, png_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


def send(client: APIClient, session: WhatsAppSession, body: dict[str, Any], **options: Any) -> Any:
    return client.post(f"/api/v1/sessions/{session.pk}/messages", body, **{"format": "json", **options})


def assert_stored(session: WhatsAppSession, answer: dict[str, Any], data: bytes, mime: str) -> Message:
    message = Message.objects.get(pk=answer["id"])
    assert message.media_path.startswith(f"media/{session.pk}/{message.pk}/")
    with default_storage.open(message.media_path, "rb") as handle:
        assert handle.read() == data
    assert (message.media_mime, message.media_size) == (mime, len(data))
    assert message.media_sha256 == hashlib.sha256(data).hexdigest()
    assert answer["media"] == {
        "mime_type": mime,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "filename": message.media_filename,
        "url": f"/api/v1/messages/{message.pk}/media",
    }
    return message


def test_a_base64_image_is_stored_under_its_session_and_message(client: APIClient, session: WhatsAppSession) -> None:
    response = send(client, session, {"to": PEER_PHONE, "type": "image", "media": {"base64": b64(PNG)}, "caption": "c"})

    assert response.status_code == 202, response.content
    message = assert_stored(session, response.json(), PNG, "image/png")
    assert message.content == {"caption": "c"}
    assert message.media_filename == "image.png"


def test_a_data_url_is_accepted_as_base64(client: APIClient, session: WhatsAppSession) -> None:
    body = {"to": PEER_PHONE, "type": "sticker", "media": {"base64": f"data:image/webp;base64,{b64(WEBP)}"}}

    response = send(client, session, body)

    assert response.status_code == 202, response.content
    assert_stored(session, response.json(), WEBP, "image/webp")


@override_settings(MEDIA_MAX_BYTES=2048)
def test_media_of_exactly_the_size_limit_is_accepted(client: APIClient, session: WhatsAppSession) -> None:
    data = png_of(2048)

    response = send(client, session, {"to": PEER_PHONE, "type": "image", "media": {"base64": b64(data)}})

    assert response.status_code == 202, response.content
    assert_stored(session, response.json(), data, "image/png")


def test_a_document_keeps_its_filename_made_safe(client: APIClient, session: WhatsAppSession) -> None:
    body = {"to": PEER_PHONE, "type": "document", "media": {"base64": b64(PDF), "filename": "../../terms 2026?.pdf"}}

    response = send(client, session, body)

    assert response.status_code == 202, response.content
    message = assert_stored(session, response.json(), PDF, "application/pdf")
    assert "/" not in message.media_filename
    assert message.media_path.startswith(f"media/{session.pk}/{message.pk}/")


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True)
def test_media_by_url_is_fetched_and_stored(
    client: APIClient, session: WhatsAppSession, server: LocalHTTPServer
) -> None:
    server.routes["/files/terms.pdf"] = Route(body=PDF, headers={"Content-Type": "application/pdf; charset=binary"})

    response = send(
        client, session, {"to": PEER_PHONE, "type": "document", "media": {"url": server.url("/files/terms.pdf?v=2")}}
    )

    assert response.status_code == 202, response.content
    message = assert_stored(session, response.json(), PDF, "application/pdf")
    assert message.media_filename == "terms.pdf"


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True)
def test_a_media_url_that_answers_an_error_is_unreachable(
    client: APIClient, session: WhatsAppSession, server: LocalHTTPServer
) -> None:
    response = send(client, session, {"to": PEER_PHONE, "type": "image", "media": {"url": server.url("/missing.png")}})

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "media_url_unreachable"
    assert not Message.objects.exists()


def test_an_uploaded_file_is_stored(client: APIClient, session: WhatsAppSession) -> None:
    upload = SimpleUploadedFile("photo.png", PNG, content_type="image/png")

    response = send(client, session, {"to": PEER_PHONE, "type": "image", "file": upload}, format="multipart")

    assert response.status_code == 202, response.content
    message = assert_stored(session, response.json(), PNG, "image/png")
    assert message.media_filename == "photo.png"
