"""The published event schemas (sessions_app/event_schemas.json) describe what the gateway really sends: envelopes made
by the real code paths validate against them, they refuse shapes the code never makes, their enums follow the models,
and docs/events.md shows each of them verbatim and only examples that validate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from accounts.models import Workspace
from sessions_app.models import Event, EventType, MessageStatus, MessageType, SessionState, WhatsAppSession
from sessions_app.services.sessions.state import set_state
from sessions_app.services.webhooks.endpoints import endpoint_send_test
from sessions_app.services.worker_events import message_events as events
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.message_helpers import T0, MessageFactory, at, connected_session, received
from sessions_app.tests.webhook_helpers import endpoint_for
from workers_app.tests.factories import UNREACHABLE_URL, WorkerFactory

pytestmark = pytest.mark.django_db
SCHEMAS_PATH = Path(__file__).resolve().parents[1] / "event_schemas.json"
EVENTS_DOC = Path(settings.BASE_DIR) / "docs" / "events.md"
SCHEMAS: dict[str, dict[str, Any]] = json.loads(SCHEMAS_PATH.read_text())


def problems(envelope: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(SCHEMAS[envelope["type"]], format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(envelope)]


def stored(kind: str) -> list[dict[str, Any]]:
    """The envelopes of ``kind`` as stored, i.e. exactly what webhooks and the live stream deliver."""
    return [event.envelope for event in Event.objects.filter(type=kind).order_by("created_at")]


def assert_all_valid(kind: str, at_least: int) -> list[dict[str, Any]]:
    envelopes = stored(kind)
    assert len(envelopes) >= at_least, f"only {len(envelopes)} {kind} events were made"
    for envelope in envelopes:
        assert problems(envelope) == [], json.dumps(envelope, indent=2)
    return envelopes


def enum_of(schema: dict[str, Any], *path: str) -> list[Any]:
    for name in path:
        schema = schema["properties"][name]
    return list(schema["enum"])


def test_there_is_one_valid_draft_2020_12_schema_per_event_type() -> None:
    assert sorted(SCHEMAS) == sorted(EventType.values)
    for kind, schema in SCHEMAS.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", kind
        Draft202012Validator.check_schema(schema)
        assert schema["properties"]["type"] == {"const": kind}
    # Without rfc3339-validator jsonschema skips date-time checks silently; then these tests would check less.
    assert not Draft202012Validator.FORMAT_CHECKER.conforms("yesterday", "date-time")
    assert not Draft202012Validator.FORMAT_CHECKER.conforms("not-a-uuid", "uuid")


def test_the_schemas_enums_follow_the_models() -> None:
    assert enum_of(SCHEMAS["session.status"], "data", "state") == SessionState.values
    assert enum_of(SCHEMAS["message.status"], "data", "type") == MessageType.values
    for kind in ("message.reaction", "message.edited", "message.revoked"):
        assert enum_of(SCHEMAS[kind], "data", "status") == MessageStatus.values, kind
        assert enum_of(SCHEMAS[kind], "data", "type") == MessageType.values, kind
    targets_only = {MessageType.REACTION, MessageType.EDIT, MessageType.DELETE}
    assert enum_of(SCHEMAS["message.received"], "data", "type") == [
        t for t in MessageType.values if t not in targets_only
    ]


def test_session_status_envelopes_match_their_schema(workspace: Workspace) -> None:
    session: WhatsAppSession = SessionFactory.create(workspace=workspace, name="Support line")
    session.worker = WorkerFactory.create()
    set_state(session, SessionState.STARTING, fields=("worker",))
    set_state(session, SessionState.SCAN_QR)
    session.phone, session.jid, session.push_name = "+15550100001", "15550100001:12@s.whatsapp.net", "Support"
    set_state(session, SessionState.CONNECTED, fields=("phone", "jid", "push_name"))
    set_state(session, SessionState.RECONNECTING, "keepalive_timeout")
    set_state(session, SessionState.FAILED, "stream_replaced")
    session.phone, session.jid, session.push_name = "", "", ""
    set_state(session, SessionState.LOGGED_OUT, "logged out by request", fields=("phone", "jid", "push_name"))

    envelopes = assert_all_valid("session.status", at_least=6)

    assert [e["data"]["state"] for e in envelopes] == [
        "starting", "scan_qr", "connected", "reconnecting", "failed", "logged_out",
    ]  # fmt: skip
    accounts = [e["data"]["account"] for e in envelopes]
    assert None in accounts
    assert {"phone": "+15550100001", "jid": "15550100001:12@s.whatsapp.net", "push_name": "Support"} in accounts


def test_message_received_envelopes_match_their_schema() -> None:
    session = connected_session()
    events.on_received(session, received("IN-TEXT", content={"text": "hi", "mentions": ["15550100001@s.whatsapp.net"]}))
    inbound = f"inbound/{session.pk}"  # where the worker keeps this session's received media
    media = {"path": f"{inbound}/IN-IMAGE/receipt.png", "mime": "image/png", "size": 69, "sha256": "b1ff" * 16}
    events.on_received(session, received("IN-IMAGE", type="image", content={"caption": "receipt"},
                                         media={**media, "filename": "receipt.png"}))  # fmt: skip
    events.on_received(session, received("IN-DOC", type="document", content={},
                                         media={"path": f"{inbound}/IN-DOC/x.pdf",
                                                "mime": "application/pdf"}))  # fmt: skip
    place = {"latitude": 52.52, "longitude": 13.405, "name": "Shop", "address": "Alexanderplatz 1"}
    events.on_received(session, received("IN-LOC", type="location", content={"location": place}))
    card = {"name": "Support desk", "phone": "+4930123456", "organization": "ACME"}
    events.on_received(session, received("IN-CARD", type="contact", content={"contact": card, "contacts": [card]}))
    events.on_received(session, received("IN-QUOTE", content={"text": "re"}, quoted={"wa_id": "IN-TEXT"}))
    events.on_received(session, received("IN-POLL", type="unsupported", content={"unsupported": "pollMessage"}))

    envelopes = assert_all_valid("message.received", at_least=7)

    sizes = [e["data"]["media"]["size"] for e in envelopes if e["data"]["media"] is not None]
    assert sorted(sizes, key=str) == [69, None]  # a worker may not report the size
    assert any(e["data"]["reply_to"] is not None for e in envelopes)


def test_message_status_envelopes_match_their_schema() -> None:
    session = connected_session()
    message = MessageFactory.create(session=session, content={"text": "hello", "link_preview": False})
    failing = MessageFactory.create(session=session)
    image = MessageFactory.create(
        session=session, type=MessageType.IMAGE, content={"caption": "receipt"}, media_path="media/out/r.png",
        media_mime="image/png", media_size=69, media_sha256="b1ff" * 16, media_filename="receipt.png",
    )  # fmt: skip

    events.on_sent(session, {"message_id": str(message.pk), "wa_id": "3EB0AA", "timestamp": at(1)})
    events.on_sent(session, {"message_id": str(image.pk), "wa_id": "3EB0BB", "timestamp": at(1)})
    for step, receipt in enumerate(("delivered", "read", "played"), start=2):
        events.on_receipt(session, {"type": receipt, "wa_ids": ["3EB0AA", "3EB0BB"], "timestamp": at(step)})
    events.on_failed(session, {"message_id": str(failing.pk), "reason": "expired"})

    envelopes = assert_all_valid("message.status", at_least=9)

    assert {e["data"]["status"] for e in envelopes} == {"sent", "delivered", "read", "played", "failed"}


def test_reaction_edit_and_delete_envelopes_match_their_schemas() -> None:
    session = connected_session()
    # Received: a message arrives, then the peer reacts, takes the reaction back, edits and deletes it.
    events.on_received(session, received("IN-1"))
    events.on_received(session, received("IN-2", type="reaction", target={"wa_id": "IN-1"}, content={"emoji": "👍"}))
    events.on_received(session, received("IN-3", type="reaction", target={"wa_id": "IN-1"}, content={"emoji": ""}))
    events.on_received(session, received("IN-4", type="edit", target={"wa_id": "IN-1"}, content={"text": "hi!"}))
    events.on_received(session, received("IN-5", type="delete", target={"wa_id": "IN-1"}, timestamp=at(5)))
    # Sent: this session's own reaction, edit and delete of a message it sent go out.
    ours = MessageFactory.create(session=session, status=MessageStatus.SENT, wa_id="3EB0AA", sent_at=T0)
    for wa_id, kind, content in (
        ("3EB0R1", MessageType.REACTION, {"emoji": "🎉"}),
        ("3EB0E1", MessageType.EDIT, {"text": "hello again"}),
        ("3EB0D1", MessageType.DELETE, {}),
    ):
        change = MessageFactory.create(session=session, type=kind, target=ours, content=content)
        events.on_sent(session, {"message_id": str(change.pk), "wa_id": wa_id, "timestamp": at(6)})

    reactions = assert_all_valid("message.reaction", at_least=3)
    edits = assert_all_valid("message.edited", at_least=2)
    deletes = assert_all_valid("message.revoked", at_least=2)

    assert {e["data"]["direction"] for e in reactions + edits + deletes} == {"in", "out"}
    assert {} in [e["data"]["reactions"] for e in reactions]  # the taken-back reaction
    # Our own reaction, edit and delete went out: each is reported as a message.status of its own.
    assert {e["data"]["type"] for e in stored("message.status")} == {"reaction", "edit", "delete"}
    assert_all_valid("message.status", at_least=3)


def test_the_webhook_test_envelope_matches_its_schema(workspace: Workspace) -> None:
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
        endpoint = endpoint_for(workspace, UNREACHABLE_URL + "/hook")

    delivery = endpoint_send_test(endpoint=endpoint)

    [envelope] = assert_all_valid("webhook.test", at_least=1)
    assert envelope["id"] == str(delivery.event_id)
    assert envelope["data"] == {"endpoint": str(endpoint.pk)}


def test_the_schemas_refuse_shapes_the_gateway_never_sends() -> None:
    session = connected_session()
    events.on_received(session, received("IN-1"))
    set_state(session, SessionState.RECONNECTING, "disconnected")
    [message] = stored("message.received")
    [status] = stored("session.status")
    assert problems(message) == problems(status) == []

    def broken(envelope: dict[str, Any], change: Any) -> dict[str, Any]:
        copy = json.loads(json.dumps(envelope))
        change(copy)
        return copy

    refused = [
        broken(status, lambda e: e.update(extra=1)),
        broken(status, lambda e: e["data"].update(state="sleeping")),
        broken(status, lambda e: e["data"].pop("account")),
        broken(status, lambda e: e.update(session=None)),
        broken(status, lambda e: e.update(created_at="yesterday")),
        broken(message, lambda e: e["data"].update(direction="out")),
        broken(message, lambda e: e["data"].update(type="reaction")),
        broken(message, lambda e: e["data"]["sender"].update(name="Bea")),
        broken(message, lambda e: e["data"].update(media={"url": "/x"})),
        broken(message, lambda e: e["data"].update(timestamp=None)),
        broken(message, lambda e: e["data"].update(reply_to="IN-0")),
        broken(message, lambda e: e.update(type="message.edited")),
    ]
    for envelope in refused:
        assert problems(envelope), json.dumps(envelope, indent=2)


def test_the_events_doc_shows_every_schema_verbatim() -> None:
    doc = EVENTS_DOC.read_text()
    for kind, schema in SCHEMAS.items():
        block = "```json\n" + json.dumps(schema, indent=2, ensure_ascii=False) + "\n```"
        assert block in doc, f"docs/events.md does not show the schema of {kind} as in {SCHEMAS_PATH.name}"


def test_the_events_doc_examples_match_their_schemas() -> None:
    blocks = re.findall(r"```json\n(.*?)\n```", EVENTS_DOC.read_text(), flags=re.DOTALL)
    examples = [example for example in map(json.loads, blocks) if "$schema" not in example and "data" in example]

    assert sorted({e["type"] for e in examples}) == sorted(SCHEMAS)
    for example in examples:
        assert problems(example) == [], json.dumps(example, indent=2)


def test_message_sent_elsewhere_envelopes_match_their_schema() -> None:
    session = connected_session()
    mine = {"sender_jid": "15550100001@s.whatsapp.net", "sender_phone": "+15550100001", "push_name": "Support"}
    events.on_own_device(session, received("OWN-TEXT", **mine, content={"text": "typed on the phone"}))
    media = {"path": "media/own/photo.jpg", "mime": "image/jpeg", "size": 1024, "sha256": "c0de" * 16}
    events.on_own_device(session, received("OWN-IMAGE", **mine, type="image", content={"caption": ""}, media=media))

    envelopes = assert_all_valid("message.sent_elsewhere", at_least=2)

    assert {(e["data"]["direction"], e["data"]["status"]) for e in envelopes} == {("out", "sent")}
    assert not stored("message.received")
