"""Pure translation of neonize's event objects (protobuf messages) into the engine's normalized events.

Everything here is quick and side-effect free: it runs on the session's Go callback thread, which stalls while a
handler is busy. Dispatch is by protobuf type name, so this module imports nothing from neonize at import time.

Timestamps become ISO 8601 strings in UTC. neonize reports message timestamps in milliseconds and receipt timestamps
in seconds (NEONIZE.md); both are accepted either way, since no real date is near 1973 in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from worker_node.engines.base import Account, EngineEvent, GenericEvent, StateChanged, StoreChanged
from worker_node.engines.neonize import inbound

_MS_THRESHOLD = 100_000_000_000  # 1e11: seconds → year 5138, milliseconds → 1973
_AUTO_RECONNECTING_FAILURES = {"SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR"}
_LOGOUT_FAILURES = {"LOGGED_OUT", "MAIN_DEVICE_GONE", "UNKNOWN_LOGOUT"}
_RECEIPT_TYPES = {"DELIVERED": "delivered", "READ": "read", "PLAYED": "played"}


def jid_str(jid: Any) -> str:
    """A JID as whatsmeow prints it (``user.agent:device@server``); mirrors ``neonize.utils.jid.Jid2String``."""
    if jid.RawAgent > 0:
        return f"{jid.User}.{jid.RawAgent}:{jid.Device}@{jid.Server}"
    if jid.Device > 0:
        return f"{jid.User}:{jid.Device}@{jid.Server}"
    if jid.User:
        return f"{jid.User}@{jid.Server}"
    return str(jid.Server)


def account_from_jid(jid: Any, push_name: str = "") -> Account | None:
    """The account behind a (device) JID: the phone in E.164 and the JID without its device part."""
    if not jid.User:
        return None
    return Account(phone=f"+{jid.User}", jid=f"{jid.User}@{jid.Server}", push_name=push_name)


def account_from_device(device: Any) -> Account | None:
    """The account of neonize's ``Device`` (``client.me`` / ``client.get_me()``), or None before pairing."""
    if device is None or not device.HasField("JID"):
        return None
    return account_from_jid(device.JID, device.PushName)


def enum_name(message: Any, field: str) -> str:
    """The symbolic name of an enum field (``"SUCCESS"``), or "" when unset or unknown."""
    if not message.HasField(field):
        return ""
    value = message.DESCRIPTOR.fields_by_name[field].enum_type.values_by_number.get(getattr(message, field))
    return value.name if value is not None else ""


def timestamp_iso(value: int) -> str | None:
    if value <= 0:
        return None
    seconds = value / 1000 if value >= _MS_THRESHOLD else value
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def short_error(error: object, limit: int = 120) -> str:
    """The gist of a Go error chain: its innermost part (``… dial tcp: lookup …: no such host`` → ``no such host``)."""
    text = str(error).strip()
    parts = [part.strip() for part in text.split(": ") if part.strip()]
    gist = parts[-1] if parts else type(error).__name__
    return gist if len(gist) <= limit else gist[: limit - 1] + "…"


# --- session state -----------------------------------------------------------------------------------------------


def pair_status(event: Any) -> list[EngineEvent]:
    if enum_name(event, "Status") == "SUCCESS":
        return [StateChanged("connected", account=account_from_jid(event.ID)), StoreChanged()]
    detail = short_error(event.Error) if event.Error else "pairing was rejected"
    return [StateChanged("failed", reason=f"pair_error: {detail}")]


def connected(event: Any, device: Any = None) -> list[EngineEvent]:
    return [StateChanged("connected", account=account_from_device(device))]


def disconnected(event: Any) -> list[EngineEvent]:
    return [StateChanged("reconnecting", reason="disconnected")]


def keepalive_timeout(event: Any) -> list[EngineEvent]:
    return [StateChanged("reconnecting", reason="keepalive_timeout")]


def keepalive_restored(event: Any, account: Account | None = None) -> list[EngineEvent]:
    return [StateChanged("connected", account=account)]


def logged_out(event: Any) -> list[EngineEvent]:
    return [StateChanged("logged_out", reason=(enum_name(event, "Reason") or "LOGGED_OUT").lower())]


def connect_failure(event: Any) -> list[EngineEvent]:
    reason = enum_name(event, "Reason")
    if reason in _AUTO_RECONNECTING_FAILURES:
        return [StateChanged("reconnecting", reason=reason.lower())]  # whatsmeow retries these by itself
    if reason in _LOGOUT_FAILURES:
        return [StateChanged("logged_out", reason=reason.lower())]
    if reason == "TEMP_BANNED":
        return [StateChanged("failed", reason="temporary_ban")]
    if reason == "CLIENT_OUTDATED":
        return [StateChanged("failed", reason="client_outdated")]
    detail = (reason or "unknown").lower()
    if event.Message:
        detail = f"{detail} ({short_error(event.Message)})"
    return [StateChanged("failed", reason=f"connect_failure: {detail}")]


def stream_replaced(event: Any) -> list[EngineEvent]:
    return [StateChanged("failed", reason="stream_replaced")]


def temporary_ban(event: Any) -> list[EngineEvent]:
    return [StateChanged("failed", reason="temporary_ban")]


def client_outdated(event: Any) -> list[EngineEvent]:
    return [StateChanged("failed", reason="client_outdated")]


# --- messages ----------------------------------------------------------------------------------------------------


def _user(jid: Any) -> str:
    """A JID without its agent and device: the chat or person, not one of their devices."""
    return f"{jid.User}@{jid.Server}" if jid.User else ""


def _phone_jid(*jids: Any) -> str:
    return next((_user(jid) for jid in jids if jid.User and jid.Server == "s.whatsapp.net"), "")


def message(event: Any) -> list[EngineEvent]:
    """A received message in the gateway's terms (``sessions_app.services.worker_events.message_events.on_received``).

    Messages this account sent from its phone or another linked device arrive too; they become
    ``message.own_device`` so the gateway does not file them as received (and no bot answers itself). Status
    updates (``status@broadcast``) are not messages of a chat and are dropped.
    """
    info = event.Info
    source = info.MessageSource
    if source.Chat.Server == "broadcast":
        return []
    described = inbound.describe(event.Message)
    if described is None:
        return []
    alt = source.SenderAlt if source.HasField("SenderAlt") else None
    recipient_alt = source.RecipientAlt if source.HasField("RecipientAlt") else None
    phone_jid = _phone_jid(source.Sender, *(j for j in (alt,) if j is not None))
    sender = phone_jid or _user(source.Sender)
    chat = _user(source.Chat)
    if not source.IsGroup and source.Chat.Server == "lid":
        # One chat per person: a chat WhatsApp addresses by LID is filed under the phone number when it is known.
        other = [j for j in (recipient_alt,) if j is not None] if source.IsFromMe else ([alt] if alt else [])
        chat = _phone_jid(*other) or chat
    others = [_user(j) for j in (source.Sender, alt) if j is not None and j.User and _user(j) != sender]
    data = {
        "wa_id": info.ID,
        "chat_jid": chat,
        "sender_jid": sender,
        "sender_phone": f"+{phone_jid.split('@')[0]}" if phone_jid else "",
        "sender_alt": others[0] if others else None,
        "push_name": info.Pushname,
        "is_group": source.IsGroup,
        "type": described.kind,
        "content": described.content,
        "media": None,
        "quoted": {"wa_id": described.quoted} if described.quoted else None,
        "target": {"wa_id": described.target} if described.target else None,
        "timestamp": timestamp_iso(info.Timestamp),
    }
    return [GenericEvent("message.own_device" if source.IsFromMe else "message.received", data)]


def receipt(event: Any) -> list[EngineEvent]:
    kind = _RECEIPT_TYPES.get(enum_name(event, "Type"))
    if kind is None:
        return []  # our own devices' reads, retries, server errors, history sync: nothing for the customer
    source = event.MessageSource
    data = {
        "wa_ids": list(event.MessageIDs),
        "type": kind,
        "timestamp": timestamp_iso(event.Timestamp),
        "chat_jid": _user(source.Chat),
        "sender_jid": _user(source.Sender),
        "is_group": source.IsGroup,
    }
    return [GenericEvent("message.receipt", data)]


_SIMPLE: dict[str, Callable[[Any], list[EngineEvent]]] = {
    "neonize.PairStatus": pair_status,
    "neonize.Disconnected": disconnected,
    "neonize.KeepAliveTimeout": keepalive_timeout,
    "neonize.LoggedOut": logged_out,
    "neonize.ConnectFailure": connect_failure,
    "neonize.StreamReplaced": stream_replaced,
    "neonize.TemporaryBan": temporary_ban,
    "neonize.ClientOutdated": client_outdated,
    "neonize.Message": message,
    "neonize.Receipt": receipt,
}

# The event classes (by name in ``neonize.events``) a session subscribes to; each goes through ``translate``.
SUBSCRIBED_EVENTS = (
    "PairStatusEv",
    "ConnectedEv",
    "DisconnectedEv",
    "KeepAliveTimeoutEv",
    "KeepAliveRestoredEv",
    "LoggedOutEv",
    "ConnectFailureEv",
    "StreamReplacedEv",
    "TemporaryBanEv",
    "ClientOutdatedEv",
    "MessageEv",
    "ReceiptEv",
)


def type_name(event: Any) -> str:
    return str(event.DESCRIPTOR.full_name)


def translate(event: Any, *, device: Any = None, account: Account | None = None) -> list[EngineEvent]:
    """Our events for one neonize event. ``device`` is ``client.me`` for Connected; ``account`` the one last known."""
    name = type_name(event)
    if name == "neonize.Connected":
        return connected(event, device)
    if name == "neonize.KeepAliveRestored":
        return keepalive_restored(event, account)
    handler = _SIMPLE.get(name)
    return handler(event) if handler is not None else []
