"""The gateway's commands to a worker: one route per command, each with the body it takes and what it answers.

The worker's server (``worker_node/server.py``) registers exactly ``ROUTES``; the gateway's client
(``workers_app/client.py``) builds its paths with ``command_path``. Every command is a signed POST (``signing``).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from worker_node.contract.outbox import OutboxMessage

START = "start"
STOP = "stop"
LOGOUT = "logout"
FORGET = "forget"  # drop a logged-out session's local store; it holds no connection to log out
PAIR_PHONE = "pair-phone"
OUTBOX = "outbox"
MARK_READ = "mark-read"
CHECK_NUMBERS = "check-numbers"
PRESENCE = "presence"
SANDBOX = "sandbox"  # followed by the sandbox command's name: /sessions/{id}/sandbox/{command}

LifecycleCommand = Literal["start", "stop", "logout", "forget"]
CHAT_ACTIONS = (MARK_READ, CHECK_NUMBERS, PRESENCE)

# The route table, as aiohttp patterns.
ROUTES: dict[str, str] = {
    name: f"/sessions/{{session_id}}/{name}"
    for name in (START, STOP, LOGOUT, FORGET, PAIR_PHONE, OUTBOX, MARK_READ, CHECK_NUMBERS, PRESENCE)
}
ROUTES[SANDBOX] = "/sessions/{session_id}/sandbox/{command}"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
UNSIGNED_PATHS = frozenset({HEALTH_PATH, METRICS_PATH})  # they show counts only


def command_path(session_id: object, command: str, sandbox_command: str = "") -> str:
    if command == SANDBOX:
        return f"/sessions/{session_id}/{SANDBOX}/{sandbox_command}"
    return f"/sessions/{session_id}/{command}"


class SessionSpec(TypedDict):
    """The session as a start, stop or logout carries it (and heartbeat answers list it)."""

    id: str
    epoch: int
    engine: str
    pairing_method: str  # "qr" or "code"
    pairing_phone: str


class PairPhone(SessionSpec):
    phone: str  # digits only


class PairPhoneAnswer(TypedDict):
    code: str


class Outbox(TypedDict):
    epoch: int
    rate_per_minute: int
    messages: list[OutboxMessage]


class OutboxAnswer(TypedDict):
    accepted: list[str]  # ids the worker took (already held ones included): each goes at most once


class MarkRead(TypedDict):
    chat_jid: str
    sender_jid: str
    wa_ids: list[str]


class CheckNumbers(TypedDict):
    phones: list[str]  # digits only


class NumberCheck(TypedDict):
    phone: str  # +digits
    on_whatsapp: bool
    jid: str  # empty when not on WhatsApp


class CheckNumbersAnswer(TypedDict):
    results: list[NumberCheck]


class Presence(TypedDict):
    to: str  # a JID
    state: str  # composing, recording or paused


class Done(TypedDict):
    ok: bool


class Refusal(TypedDict):
    """Any refusal: ``{"error": {"code", "message", "details"}}`` with a 4xx status."""

    error: dict[str, Any]
