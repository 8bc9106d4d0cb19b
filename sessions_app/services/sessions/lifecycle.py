"""The session lifecycle as the customer drives it: create, start, stop, restart, log out, delete, pair."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from accounts.models import Workspace
from paas.api.errors import APIError, Conflict
from sessions_app.models import Desired, PairingMethod, SessionState, WhatsAppSession
from sessions_app.services.sessions.state import ACTIVE_STATES, PAIRING_STATES, publish, set_state
from worker_node.contract.snapshots import snapshot_path
from workers_app.client import WorkerClient
from workers_app.services.placement import place

logger = logging.getLogger(__name__)


def enabled_engines() -> list[str]:
    return list(settings.SESSION_ENGINES)


@transaction.atomic
def session_create(
    *, workspace: Workspace, name: str, engine: str | None = None, pairing_method: str = PairingMethod.QR,
    pairing_phone: str = "", metadata: dict[str, Any] | None = None, start: bool = True,
    send_rate_per_minute: int | None = None,
) -> WhatsAppSession:  # fmt: skip
    engine = engine or enabled_engines()[0]
    if engine not in enabled_engines():
        raise APIError(
            "engine_not_enabled",
            f"The '{engine}' engine is not enabled here. Enabled: {', '.join(enabled_engines())}.",
            details={"engine": [f"Choose one of: {', '.join(enabled_engines())}."]},
        )
    session = WhatsAppSession.objects.create(
        workspace=workspace,
        name=name,
        engine=engine,
        pairing_method=pairing_method,
        pairing_phone=pairing_phone,
        metadata=metadata or {},
        send_rate_per_minute=send_rate_per_minute,
        desired=Desired.RUN if start else Desired.STOP,
        state=SessionState.PENDING if start else SessionState.STOPPED,
    )
    if start:
        place(session)
    return session


def _locked(session: WhatsAppSession) -> WhatsAppSession:
    return (
        WhatsAppSession.objects.select_for_update(of=("self",), no_key=True).select_related("worker").get(pk=session.pk)
    )


@transaction.atomic
def session_update(*, session: WhatsAppSession, **changes: Any) -> WhatsAppSession:
    session = _locked(session)
    for field, value in changes.items():
        setattr(session, field, value)
    session.save(update_fields=list(changes))
    publish(session)
    return session


@transaction.atomic
def session_start(*, session: WhatsAppSession) -> WhatsAppSession:
    session = _locked(session)
    if session.desired == Desired.RUN and session.state != SessionState.FAILED:
        raise Conflict("session_running", f"The session is already running ({session.state}).")
    session.desired = Desired.RUN
    session.save(update_fields=["desired"])
    place(session)
    return session


@transaction.atomic
def session_stop(*, session: WhatsAppSession) -> WhatsAppSession:
    session = _locked(session)
    if session.desired == Desired.STOP:
        raise Conflict("session_not_running", f"The session is not running ({session.state}).")
    session.desired = Desired.STOP
    session.save(update_fields=["desired"])
    if session.worker is not None and session.state in ACTIVE_STATES:
        # The worker confirms with a "stopped" event; until then the session reads as it is.
        WorkerClient(session).lifecycle_after_commit("stop")
    else:
        session.worker = None
        set_state(session, SessionState.STOPPED, "stopped by request", fields=("worker",))
    return session


@transaction.atomic
def session_restart(*, session: WhatsAppSession) -> WhatsAppSession:
    session = _locked(session)
    if session.state == SessionState.LOGGED_OUT:
        raise Conflict("session_logged_out", "The session is logged out; start it to pair again.")
    session.desired = Desired.RUN
    session.save(update_fields=["desired"])
    place(session)  # a new epoch: the old run is fenced off and the chosen worker starts afresh
    return session


@transaction.atomic
def session_logout(*, session: WhatsAppSession) -> WhatsAppSession:
    session = _locked(session)
    if not session.phone:
        raise Conflict("session_not_linked", "The session is not linked to a WhatsApp account.")
    if session.worker is not None and session.state in ACTIVE_STATES:
        WorkerClient(session).lifecycle_after_commit("logout")
    session.desired = Desired.STOP
    session.phone, session.jid, session.push_name, session.connected_at = "", "", "", None
    session.has_snapshot = False
    set_state(
        session,
        SessionState.LOGGED_OUT,
        "logged out by request",
        fields=("desired", "phone", "jid", "push_name", "connected_at", "has_snapshot"),
    )
    delete_snapshot_after_commit(session.pk)
    return session


@transaction.atomic
def session_delete(*, session: WhatsAppSession) -> None:
    """Delete the session, its messages and its snapshot. A session linked and online is logged out at WhatsApp
    first, so the phone's Linked devices lose it too; the worker then deletes its local store, as it does for any
    other deleted session. If the worker misses the command, its next heartbeat has it forget the store (without the
    logout)."""
    session = _locked(session)
    if session.worker is not None:
        online = session.state in (SessionState.CONNECTED, SessionState.RECONNECTING) and bool(session.phone)
        WorkerClient(session).lifecycle_after_commit("logout" if online else "forget")
    delete_snapshot_after_commit(session.pk)
    session.delete()


def delete_snapshot_after_commit(session_id: object) -> None:
    def delete() -> None:
        try:
            default_storage.delete(snapshot_path(session_id))
        except Exception:
            logger.exception("could not delete the auth snapshot of session %s", session_id)

    transaction.on_commit(delete)


def _require_pairing(session: WhatsAppSession) -> None:
    if session.state not in PAIRING_STATES or session.worker is None:
        raise Conflict("session_not_pairing", f"The session is not waiting to be paired ({session.state}).")


def session_request_pairing_code(*, session: WhatsAppSession, phone: str) -> str:
    _require_pairing(session)
    code = str(WorkerClient(session).pair_phone(phone)["code"])
    with transaction.atomic():
        locked = _locked(session)
        locked.pairing_code, locked.pairing_phone = code, phone
        set_state(locked, SessionState.PAIRING_CODE, fields=("pairing_code", "pairing_phone"))
    return code


def sandbox_command(*, session: WhatsAppSession, command: str, payload: dict[str, Any]) -> dict[str, Any]:
    if not session.is_sandbox:
        raise APIError("not_found", "No such endpoint for this session.", status_code=404)
    if command == "scan":
        _require_pairing(session)
    if session.worker is None:
        raise Conflict("session_not_running", "The session is not running on a worker.")
    return WorkerClient(session).sandbox(command, payload)
