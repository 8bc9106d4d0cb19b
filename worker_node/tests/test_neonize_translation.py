"""neonize's own event objects in, our normalized events out."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from worker_node.engines.base import Account, GenericEvent, StateChanged, StoreChanged
from worker_node.engines.neonize import translate
from worker_node.engines.neonize.runtime import load_neonize

PHONE_JID = "15550001111@s.whatsapp.net"


@pytest.fixture(scope="module")
def nz() -> Any:
    """neonize's event classes and protobufs, imported the way the engine does (logging first)."""
    load_neonize(logging.WARNING)
    import neonize.events as events
    from neonize.proto import Neonize_pb2 as proto
    from neonize.proto.waCommon import WACommon_pb2 as common
    from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

    return SimpleNamespace(events=events, proto=proto, e2e=e2e, common=common)


def jid(nz: Any, user: str, server: str = "s.whatsapp.net", device: int = 0) -> Any:
    return nz.proto.JID(User=user, Server=server, Device=device)


def test_pair_success_connects_with_the_account_and_asks_for_a_snapshot(nz):
    event = nz.events.PairStatusEv(
        ID=jid(nz, "15550001111", device=12), Status=nz.events.PairStatusEv.SUCCESS, Platform="android"
    )

    assert translate.translate(event) == [
        StateChanged("connected", account=Account(phone="+15550001111", jid=PHONE_JID)),
        StoreChanged(),
    ]


def test_pair_error_fails_with_the_reason(nz):
    event = nz.events.PairStatusEv(
        Status=nz.events.PairStatusEv.ERROR, Error="failed to verify device identity: invalid signature"
    )

    assert translate.translate(event) == [StateChanged("failed", reason="pair_error: invalid signature")]


def test_connected_names_the_account_from_the_device(nz):
    device = nz.proto.Device(JID=jid(nz, "15550001111", device=3), PushName="Ann", Initialized=True)

    assert translate.translate(nz.events.ConnectedEv(status=True), device=device) == [
        StateChanged("connected", account=Account(phone="+15550001111", jid=PHONE_JID, push_name="Ann"))
    ]


def test_connected_without_a_known_device_has_no_account(nz):
    assert translate.translate(nz.events.ConnectedEv(status=True)) == [StateChanged("connected")]
    assert translate.translate(nz.events.ConnectedEv(status=True), device=nz.proto.Device()) == [
        StateChanged("connected")
    ]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("LOGGED_OUT", "logged_out"), ("MAIN_DEVICE_GONE", "main_device_gone"), (None, "logged_out")],
)
def test_logged_out_reports_the_reason(nz, reason, expected):
    event = nz.events.LoggedOutEv(OnConnect=True)
    if reason is not None:
        event.Reason = nz.proto.ConnectFailureReason.Value(reason)

    assert translate.translate(event) == [StateChanged("logged_out", reason=expected)]


def test_disconnects_and_keepalive_timeouts_mean_reconnecting(nz):
    assert translate.translate(nz.events.DisconnectedEv(status=True)) == [
        StateChanged("reconnecting", reason="disconnected")
    ]
    assert translate.translate(nz.events.KeepAliveTimeoutEv(ErrorCount=2, LastSuccess=1700000000)) == [
        StateChanged("reconnecting", reason="keepalive_timeout")
    ]


def test_keepalive_restored_reconnects_with_the_known_account(nz):
    account = Account(phone="+15550001111", jid=PHONE_JID, push_name="Ann")

    assert translate.translate(nz.events.KeepAliveRestoredEv(), account=account) == [
        StateChanged("connected", account=account)
    ]


def test_stream_replaced_ban_and_outdated_client_fail(nz):
    ban = nz.events.TemporaryBanEv(Code=nz.events.TemporaryBanEv.SEND_TO_TOO_MANY_PEOPLE, Expire=3600)

    assert translate.translate(nz.events.StreamReplacedEv()) == [StateChanged("failed", reason="stream_replaced")]
    assert translate.translate(ban) == [StateChanged("failed", reason="temporary_ban")]
    assert translate.translate(nz.events.ClientOutdatedEv()) == [StateChanged("failed", reason="client_outdated")]


@pytest.mark.parametrize(
    ("reason", "message", "expected"),
    [
        ("SERVICE_UNAVAILABLE", "", StateChanged("reconnecting", reason="service_unavailable")),
        ("LOGGED_OUT", "", StateChanged("logged_out", reason="logged_out")),
        ("TEMP_BANNED", "", StateChanged("failed", reason="temporary_ban")),
        ("CLIENT_OUTDATED", "", StateChanged("failed", reason="client_outdated")),
        ("BAD_USER_AGENT", "bad ua", StateChanged("failed", reason="connect_failure: bad_user_agent (bad ua)")),
    ],
)
def test_connect_failures(nz, reason, message, expected):
    event = nz.events.ConnectFailureEv(Reason=nz.proto.ConnectFailureReason.Value(reason), Message=message)

    assert translate.translate(event) == [expected]


def message_event(nz: Any, *, chat: Any, sender: Any, message: Any, **source: Any) -> Any:
    return nz.events.MessageEv(
        Info=nz.proto.MessageInfo(
            ID="3EB0C767D26A1D5B0A3E",
            Timestamp=1700000000123,  # milliseconds
            Type="text",
            Pushname="Bob",
            MessageSource=nz.proto.MessageSource(Chat=chat, Sender=sender, **source),
        ),
        Message=message,
    )


def received(nz: Any, message: Any, **source: Any) -> dict[str, Any]:
    """The data of the one message.received event for ``message`` from Bob in a direct chat."""
    bob = jid(nz, "15550002222")
    [event] = translate.translate(message_event(nz, chat=bob, sender=bob, message=message, **source))
    assert isinstance(event, GenericEvent)
    assert event.type == "message.received"
    return event.data


def test_a_direct_text_message(nz):
    bob = jid(nz, "15550002222")
    event = message_event(nz, chat=bob, sender=bob, message=nz.e2e.Message(conversation="hi"))

    assert translate.translate(event) == [
        GenericEvent(
            "message.received",
            {
                "wa_id": "3EB0C767D26A1D5B0A3E",
                "chat_jid": "15550002222@s.whatsapp.net",
                "sender_jid": "15550002222@s.whatsapp.net",
                "sender_phone": "+15550002222",
                "sender_alt": None,
                "push_name": "Bob",
                "is_group": False,
                "type": "text",
                "content": {"text": "hi"},
                "media": None,
                "quoted": None,
                "target": None,
                "timestamp": "2023-11-14T22:13:20.123000+00:00",
            },
        )
    ]


def test_a_group_message_with_the_senders_lid_as_sender_alt(nz):
    event = message_event(
        nz,
        chat=jid(nz, "120363025246125486", server="g.us"),
        sender=jid(nz, "15550002222"),
        SenderAlt=jid(nz, "123456789012345", server="lid"),
        IsGroup=True,
        AddressingMode=nz.proto.AddressingMode.Value("PN"),
        message=nz.e2e.Message(extendedTextMessage=nz.e2e.ExtendedTextMessage(text="hello group")),
    )

    [event] = translate.translate(event)

    assert isinstance(event, GenericEvent)
    assert {key: event.data[key] for key in ("chat_jid", "sender_jid", "sender_phone", "sender_alt", "is_group")} == {
        "chat_jid": "120363025246125486@g.us",
        "sender_jid": "15550002222@s.whatsapp.net",
        "sender_phone": "+15550002222",
        "sender_alt": "123456789012345@lid",
        "is_group": True,
    }
    assert (event.data["type"], event.data["content"]) == ("text", {"text": "hello group"})


def test_a_sender_known_by_lid_is_filed_under_the_phone_number_from_sender_alt(nz):
    lid = jid(nz, "123456789012345", server="lid", device=4)
    event = message_event(
        nz, chat=lid, sender=lid, SenderAlt=jid(nz, "15550002222"), message=nz.e2e.Message(conversation="hi")
    )

    [event] = translate.translate(event)

    assert isinstance(event, GenericEvent)
    assert event.data["chat_jid"] == event.data["sender_jid"] == "15550002222@s.whatsapp.net"
    assert event.data["sender_phone"] == "+15550002222"
    assert event.data["sender_alt"] == "123456789012345@lid"


def test_a_sender_known_only_by_lid_has_no_phone(nz):
    lid = jid(nz, "123456789012345", server="lid")

    [event] = translate.translate(message_event(nz, chat=lid, sender=lid, message=nz.e2e.Message(conversation="x")))

    assert isinstance(event, GenericEvent)
    assert (event.data["chat_jid"], event.data["sender_jid"]) == ("123456789012345@lid", "123456789012345@lid")
    assert event.data["sender_phone"] == ""


def test_my_own_message_from_another_device_is_not_filed_as_received(nz):
    me = jid(nz, "15550001111", device=7)
    event = message_event(
        nz,
        chat=jid(nz, "15550002222"),
        sender=me,
        IsFromMe=True,
        message=nz.e2e.Message(imageMessage=nz.e2e.ImageMessage(caption="look")),
    )

    [own] = translate.translate(event)

    assert isinstance(own, GenericEvent)
    assert own.type == "message.own_device"
    assert own.data["sender_jid"] == "15550001111@s.whatsapp.net"
    assert (own.data["type"], own.data["content"]) == ("image", {"caption": "look"})


def test_a_reply_with_mentions_names_the_quoted_message(nz):
    context = nz.e2e.ContextInfo(stanzaID="3EB0QUOTED", participant=PHONE_JID, mentionedJID=[PHONE_JID])
    data = received(
        nz, nz.e2e.Message(extendedTextMessage=nz.e2e.ExtendedTextMessage(text="@1555", contextInfo=context))
    )

    assert data["content"] == {"text": "@1555", "mentions": [PHONE_JID]}
    assert data["quoted"] == {"wa_id": "3EB0QUOTED"}


@pytest.mark.parametrize(
    ("field", "inner", "kind", "content"),
    [
        ("imageMessage", {"caption": "look", "mimetype": "image/jpeg"}, "image", {"caption": "look"}),
        ("videoMessage", {"caption": "watch"}, "video", {"caption": "watch"}),
        ("audioMessage", {"mimetype": "audio/mpeg"}, "audio", {}),
        ("audioMessage", {"PTT": True, "mimetype": "audio/ogg; codecs=opus"}, "voice", {}),
        ("documentMessage", {"caption": "the deal", "fileName": "deal.pdf"}, "document", {"caption": "the deal"}),
        ("stickerMessage", {"mimetype": "image/webp"}, "sticker", {}),
    ],
)
def test_media_messages(nz, field, inner, kind, content):
    message_class = getattr(nz.e2e, field[0].upper() + field[1:])
    data = received(nz, nz.e2e.Message(**{field: message_class(**inner)}))

    assert (data["type"], data["content"], data["media"]) == (kind, content, None)


def test_a_document_with_a_caption_is_unwrapped(nz):
    document = nz.e2e.DocumentMessage(caption="see", fileName="a.pdf")
    wrapped = nz.e2e.Message(
        documentWithCaptionMessage=nz.e2e.FutureProofMessage(message=nz.e2e.Message(documentMessage=document))
    )

    assert (received(nz, wrapped)["type"], received(nz, wrapped)["content"]) == ("document", {"caption": "see"})


def test_a_location(nz):
    place = nz.e2e.LocationMessage(degreesLatitude=52.52, degreesLongitude=13.405, name="TV tower", address="Berlin")

    data = received(nz, nz.e2e.Message(locationMessage=place))

    assert (data["type"], data["content"]) == (
        "location",
        {"location": {"latitude": 52.52, "longitude": 13.405, "name": "TV tower", "address": "Berlin"}},
    )


def test_a_contact_card(nz):
    card = (
        "BEGIN:VCARD\nVERSION:3.0\nN:;Ann;;;\nFN:Ann\\, the builder\nORG:Acme\\; Sons;\n"
        "item1.TEL;waid=15550003333:+1 555-000-3333\nitem1.X-ABLabel:Mobile\nEND:VCARD"
    )

    data = received(nz, nz.e2e.Message(contactMessage=nz.e2e.ContactMessage(vcard=card)))

    assert (data["type"], data["content"]) == (
        "contact",
        {"contact": {"name": "Ann, the builder", "phone": "+15550003333", "organization": "Acme; Sons"}},
    )


def test_a_reaction_names_its_target(nz):
    key = nz.common.MessageKey(remoteJID=PHONE_JID, fromMe=True, ID="3EB0MINE")

    data = received(nz, nz.e2e.Message(reactionMessage=nz.e2e.ReactionMessage(key=key, text="👍")))

    assert (data["type"], data["content"], data["target"]) == ("reaction", {"emoji": "👍"}, {"wa_id": "3EB0MINE"})


def test_an_edit_and_a_delete_name_their_target(nz):
    key = nz.common.MessageKey(remoteJID=PHONE_JID, fromMe=False, ID="3EB0THEIRS")
    edit = nz.e2e.ProtocolMessage(
        type=nz.e2e.ProtocolMessage.MESSAGE_EDIT, key=key, editedMessage=nz.e2e.Message(conversation="fixed")
    )
    revoke = nz.e2e.ProtocolMessage(type=nz.e2e.ProtocolMessage.REVOKE, key=key)

    edited = received(nz, nz.e2e.Message(protocolMessage=edit))
    deleted = received(nz, nz.e2e.Message(protocolMessage=revoke))

    assert (edited["type"], edited["content"], edited["target"]) == ("edit", {"text": "fixed"}, {"wa_id": "3EB0THEIRS"})
    assert (deleted["type"], deleted["content"], deleted["target"]) == ("delete", {}, {"wa_id": "3EB0THEIRS"})


def test_housekeeping_messages_and_status_updates_are_not_messages(nz):
    bob = jid(nz, "15550002222")
    key_share = nz.e2e.ProtocolMessage(type=nz.e2e.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE)
    status = message_event(
        nz, chat=jid(nz, "status", server="broadcast"), sender=bob, message=nz.e2e.Message(conversation="my day")
    )

    assert translate.translate(message_event(nz, chat=bob, sender=bob, message=nz.e2e.Message())) == []
    assert (
        translate.translate(message_event(nz, chat=bob, sender=bob, message=nz.e2e.Message(protocolMessage=key_share)))
        == []
    )
    assert translate.translate(status) == []


def test_kinds_we_do_not_handle_arrive_as_a_stub(nz):
    poll = nz.e2e.PollCreationMessage(name="Lunch?")

    data = received(nz, nz.e2e.Message(pollCreationMessageV3=poll))

    assert (data["type"], data["content"]) == ("unsupported", {"unsupported": "pollCreationMessageV3"})


@pytest.mark.parametrize(("kind", "expected"), [("DELIVERED", "delivered"), ("READ", "read"), ("PLAYED", "played")])
def test_receipts(nz, kind, expected):
    bob = jid(nz, "15550002222")
    event = nz.events.ReceiptEv(
        MessageSource=nz.proto.MessageSource(Chat=bob, Sender=bob),
        MessageIDs=["3EB0A", "3EB0B"],
        Timestamp=1700000000,  # seconds
        Type=nz.events.ReceiptEv.ReceiptType.Value(kind),
    )

    assert translate.translate(event) == [
        GenericEvent(
            "message.receipt",
            {
                "wa_ids": ["3EB0A", "3EB0B"],
                "type": expected,
                "timestamp": "2023-11-14T22:13:20+00:00",
                "chat_jid": "15550002222@s.whatsapp.net",
                "sender_jid": "15550002222@s.whatsapp.net",
                "is_group": False,
            },
        )
    ]


def test_receipts_of_our_own_devices_are_not_reported(nz):
    event = nz.events.ReceiptEv(MessageIDs=["3EB0A"], Type=nz.events.ReceiptEv.READ_SELF)

    assert translate.translate(event) == []


def test_events_we_do_not_follow_translate_to_nothing(nz):
    assert translate.translate(nz.events.PresenceEv()) == []


def test_short_error_keeps_the_innermost_cause():
    error = (
        'failed to dial whatsapp web websocket: failed to WebSocket dial: failed to send handshake request: Get "'
        'https://web.whatsapp.com/ws/chat": dial tcp: lookup web.whatsapp.com on 10.0.0.53:53: no such host'
    )

    assert translate.short_error(error) == "no such host"
    assert translate.short_error("x" * 500).endswith("…")
    assert len(translate.short_error("x" * 500)) == 120
