"""A worker's message.received (or message.own_device) names its media by a path in object storage; ingest keeps
only a path under the session's own inbound/ prefix, so a forged path cannot have the gateway serve another
session's media or a snapshot. The message itself is kept, without media."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from sessions_app.models import Message, SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.helpers import event, put_snapshot
from sessions_app.tests.message_helpers import OGG, PEER_JID
from workers_app.tests.factories import worker_with_token
from workers_app.tests.helpers import worker_client

pytestmark = pytest.mark.django_db
EVENTS = "/internal/v1/events"


@pytest.fixture
def hosted() -> tuple[str, WhatsAppSession]:
    worker, raw = worker_with_token()
    return raw, SessionFactory.create(worker=worker, epoch=1, state=SessionState.CONNECTED)


def receive(raw: str, session: WhatsAppSession, path: str, kind: str = "message.received") -> Message:
    media = {"path": path, "mime": "audio/ogg", "filename": "note.ogg", "size": 4, "sha256": "ab"}
    data = {"wa_id": "3EB0FORGED", "type": "voice", "chat_jid": PEER_JID, "sender_jid": PEER_JID, "media": media}
    envelope = event(session, kind, data)
    response = worker_client(raw).post(EVENTS, {"events": [envelope]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == [envelope["id"]]
    return Message.objects.get(session=session, wa_id="3EB0FORGED")


def test_media_under_the_sessions_own_prefix_is_kept(hosted: tuple[str, WhatsAppSession]) -> None:
    raw, session = hosted
    path = default_storage.save(f"inbound/{session.pk}/3EB0FORGED/note.ogg", ContentFile(OGG))

    message = receive(raw, session, path)

    assert message.media_path == path
    assert message.media_filename == "note.ogg"


def other_sessions_media(session: WhatsAppSession) -> str:
    other = SessionFactory.create(worker=session.worker)
    return default_storage.save(f"inbound/{other.pk}/3EB0X/note.ogg", ContentFile(OGG))


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(lambda session: put_snapshot(SessionFactory.create(worker=session.worker)), id="a-snapshot"),
        pytest.param(other_sessions_media, id="another-sessions-media"),
        pytest.param(lambda session: f"inbound/{session.pk}/../x/note.ogg", id="dot-dot"),
        pytest.param(lambda session: f"media/{session.pk}/x/note.ogg", id="outgoing-media"),
        pytest.param(lambda session: f"inbound/{session.pk}/", id="the-prefix-alone"),
        pytest.param(lambda session: f"inbound/{session.pk}/{'a' * 300}", id="longer-than-stored"),
    ],
)
@pytest.mark.parametrize("kind", ["message.received", "message.own_device"])
def test_a_path_outside_the_sessions_prefix_is_dropped_and_the_message_kept(
    hosted: tuple[str, WhatsAppSession], forged: Any, kind: str
) -> None:
    raw, session = hosted

    message = receive(raw, session, forged(session), kind)

    assert (message.media_path, message.media_filename, message.media_mime, message.media_size) == ("", "", "", None)
