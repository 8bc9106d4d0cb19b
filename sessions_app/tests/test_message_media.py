"""GET /api/v1/messages/{id}/media: the stored bytes with the stored MIME type; 404 no_media for a message without
media, and not_found for another workspace's message."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from accounts.models import Membership
from sessions_app.models import Message, WhatsAppSession
from sessions_app.tests.message_helpers import OGG, PEER_PHONE, PNG, b64, connected_session, inbound
from workers_app.tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db


def received_with_media(session: WhatsAppSession, data: bytes, mime: str, filename: str) -> Message:
    path = default_storage.save(f"inbound/{session.pk}/3EB0M/{filename}", ContentFile(data))
    return inbound(session, "3EB0M", type="voice", media_path=path, media_mime=mime, media_filename=filename)


def download(client: APIClient, message_id: Any) -> Any:
    return client.get(f"/api/v1/messages/{message_id}/media")


def test_received_media_downloads_with_its_stored_type_and_name(client: APIClient, session: WhatsAppSession) -> None:
    message = received_with_media(session, OGG, "audio/ogg; codecs=opus", "note.ogg")

    response = download(client, message.pk)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == OGG
    assert response["Content-Type"] == "audio/ogg; codecs=opus"
    assert 'filename="note.ogg"' in response["Content-Disposition"]


def test_sent_media_downloads_as_it_was_sent(client: APIClient, session: WhatsAppSession) -> None:
    sent = client.post(
        f"/api/v1/sessions/{session.pk}/messages",
        {"to": PEER_PHONE, "type": "image", "media": {"base64": b64(PNG), "filename": "pic.png"}},
        format="json",
    )
    assert sent.status_code == 202, sent.content

    response = download(client, sent.json()["id"])

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"


def test_a_text_message_has_no_media(client: APIClient, session: WhatsAppSession) -> None:
    text = inbound(session, "3EB0T")

    assert_api_error(download(client, text.pk), 404, "no_media")


def test_another_workspaces_media_is_not_found(client: APIClient, outsider: Membership) -> None:
    theirs = received_with_media(connected_session(workspace=outsider.workspace), OGG, "audio/ogg", "note.ogg")

    assert_api_error(download(client, theirs.pk), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("inbound/none/3EB0M/gone.ogg", id="missing"),
        pytest.param("inbound/" + "a" * 292, id="name-too-long"),
    ],
)
def test_media_missing_from_storage_is_unavailable(client: APIClient, session: WhatsAppSession, path: str) -> None:
    message = inbound(session, "3EB0M", type="voice", media_path=path, media_mime="audio/ogg")

    assert_api_error(download(client, message.pk), 404, "media_unavailable")


def test_a_non_latin1_file_name_is_sent_as_utf8(client: APIClient, session: WhatsAppSession) -> None:
    message = received_with_media(session, OGG, "application/pdf", "счёт.pdf")

    response = download(client, message.pk)

    assert response.status_code == 200
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%D1%81%D1%87%D1%91%D1%82.pdf"


def test_quotes_and_line_breaks_in_a_file_name_cannot_break_the_header(
    client: APIClient, session: WhatsAppSession
) -> None:
    message = received_with_media(session, OGG, "audio/ogg", "note.ogg")
    Message.objects.filter(pk=message.pk).update(media_filename='a"b\r\nSet-Cookie: x=1\t.ogg')

    response = download(client, message.pk)

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="a\\"bSet-Cookie: x=1.ogg"'
