"""Ingest of worker events: idempotent by event id, fenced by owner and epoch, and applied to the session."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.storage import default_storage

from sessions_app.models import Desired, SessionEvent, SessionState, WhatsAppSession
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.helpers import event, put_snapshot
from workers_app.models import Worker
from workers_app.tests.factories import WorkerFactory, worker_with_token
from workers_app.tests.helpers import worker_client

pytestmark = pytest.mark.django_db
EVENTS = "/internal/v1/events"
ACCOUNT = {"phone": "+15550100777", "jid": "15550100777:12@s.whatsapp.net", "push_name": "Ann"}


def post(raw: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = worker_client(raw).post(EVENTS, {"events": events}, format="json")
    assert response.status_code == 200, response.content
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture
def hosted() -> tuple[Worker, str, WhatsAppSession]:
    """A worker and a session it runs under epoch 3."""
    worker, raw = worker_with_token()
    session = SessionFactory.create(worker=worker, epoch=3, state=SessionState.STARTING)
    return worker, raw, session


def reloaded(session: WhatsAppSession) -> WhatsAppSession:
    return WhatsAppSession.objects.get(pk=session.pk)


def test_posting_the_same_batch_twice_stores_each_event_once(hosted: tuple[Worker, str, WhatsAppSession]) -> None:
    _, raw, session = hosted
    batch = [event(session, "session.qr", {"code": "2@one"}), event(session, "message.received", {"text": "hi"})]
    ids = [item["id"] for item in batch]

    first = post(raw, batch)
    second = post(raw, batch)

    assert first == {"accepted": ids, "duplicates": [], "rejected": []}
    assert second == {"accepted": [], "duplicates": ids, "rejected": []}
    assert sorted(str(pk) for pk in SessionEvent.objects.values_list("pk", flat=True)) == sorted(ids)


def test_a_duplicate_is_not_applied_again(hosted: tuple[Worker, str, WhatsAppSession]) -> None:
    _, raw, session = hosted
    qr = event(session, "session.qr", {"code": "2@one"})
    post(raw, [qr])
    post(raw, [event(session, "session.state", {"state": "connected", "account": ACCOUNT})])

    answer = post(raw, [qr])

    assert answer["duplicates"] == [qr["id"]]
    assert reloaded(session).state == SessionState.CONNECTED
    assert reloaded(session).qr_code == ""


def test_the_same_event_twice_in_one_batch_is_stored_once(hosted: tuple[Worker, str, WhatsAppSession]) -> None:
    _, raw, session = hosted
    qr = event(session, "session.qr", {"code": "2@one"})

    answer = post(raw, [qr, qr])

    assert answer == {"accepted": [qr["id"]], "duplicates": [qr["id"]], "rejected": []}
    assert SessionEvent.objects.count() == 1


@pytest.mark.parametrize("epoch", [pytest.param(2, id="older"), pytest.param(4, id="newer")])
def test_an_event_of_another_epoch_is_rejected_and_not_applied(
    hosted: tuple[Worker, str, WhatsAppSession], epoch: int
) -> None:
    _, raw, session = hosted
    stale = event(session, "session.state", {"state": "connected", "account": ACCOUNT}, epoch=epoch)

    answer = post(raw, [stale])

    assert answer == {"accepted": [], "duplicates": [], "rejected": [{"id": stale["id"], "code": "stale_epoch"}]}
    assert not SessionEvent.objects.exists()
    assert reloaded(session).state == SessionState.STARTING
    assert reloaded(session).phone == ""


def test_an_event_for_an_unknown_session_is_rejected() -> None:
    _, raw = worker_with_token()
    unknown = event(SessionFactory.build(), "session.qr", {"code": "2@x"}, session_id=str(uuid.uuid4()))

    answer = post(raw, [unknown])

    assert answer["rejected"] == [{"id": unknown["id"], "code": "unknown_session"}]
    assert not SessionEvent.objects.exists()


def test_an_event_from_a_worker_that_does_not_own_the_session_is_rejected_as_stale(
    hosted: tuple[Worker, str, WhatsAppSession],
) -> None:
    _, _, session = hosted
    _, intruder = worker_with_token()
    foreign = event(session, "session.state", {"state": "logged_out"})

    answer = post(intruder, [foreign])

    assert answer["rejected"] == [{"id": foreign["id"], "code": "stale_epoch"}]
    assert reloaded(session).state == SessionState.STARTING
    assert reloaded(session).desired == Desired.RUN


def test_an_event_for_a_session_without_a_worker_is_rejected_as_stale() -> None:
    _, raw = worker_with_token()
    parked = SessionFactory.create(worker=None, epoch=3, desired=Desired.STOP, state=SessionState.STOPPED)

    answer = post(raw, [event(parked, "session.state", {"state": "connected", "account": ACCOUNT})])

    assert answer["rejected"][0]["code"] == "stale_epoch"
    assert reloaded(parked).state == SessionState.STOPPED


def test_a_rejected_event_does_not_hold_up_the_rest_of_its_batch(hosted: tuple[Worker, str, WhatsAppSession]) -> None:
    _, raw, session = hosted
    stale = event(session, "session.qr", {"code": "2@old"}, epoch=1)
    fresh = event(session, "session.qr", {"code": "2@new"})

    answer = post(raw, [stale, fresh])

    assert answer["accepted"] == [fresh["id"]]
    assert answer["rejected"] == [{"id": stale["id"], "code": "stale_epoch"}]
    assert reloaded(session).qr_code == "2@new"


def test_an_event_with_data_that_can_never_apply_is_refused_for_good_and_the_rest_goes_through(
    hosted: tuple[Worker, str, WhatsAppSession],
) -> None:
    _, raw, session = hosted
    broken = event(session, "session.state", {"state": "exploded"})
    fine = event(session, "session.qr", {"code": "2@fine"})

    answer = post(raw, [broken, fine])

    assert answer == {
        "accepted": [fine["id"]],
        "duplicates": [],
        "rejected": [{"id": broken["id"], "code": "invalid_event"}],
    }
    assert list(SessionEvent.objects.values_list("type", flat=True)) == ["session.qr"]
    assert reloaded(session).state == SessionState.SCAN_QR


def test_an_event_that_fails_unexpectedly_stays_unconfirmed_so_the_worker_retries_it(
    hosted: tuple[Worker, str, WhatsAppSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessions_app.services.worker_events import ingest

    _, raw, session = hosted
    real = ingest.apply_event

    def flaky(target: WhatsAppSession, kind: str, data: dict[str, Any], occurred_at: Any) -> None:
        if data.get("code") == "2@boom":
            raise RuntimeError("database hiccup")
        real(target, kind, data, occurred_at)

    monkeypatch.setattr(ingest, "apply_event", flaky)
    broken = event(session, "session.qr", {"code": "2@boom"})
    fine = event(session, "session.qr", {"code": "2@fine"})

    answer = post(raw, [broken, fine])

    assert answer == {"accepted": [fine["id"]], "duplicates": [], "rejected": []}
    assert list(SessionEvent.objects.values_list("type", flat=True)) == ["session.qr"]
    assert reloaded(session).state == SessionState.SCAN_QR


def test_a_qr_event_puts_the_session_in_scan_qr_with_the_code(hosted: tuple[Worker, str, WhatsAppSession]) -> None:
    _, raw, session = hosted

    post(raw, [event(session, "session.qr", {"code": "2@abc,def", "expires_at": "2030-01-01T00:00:20+00:00"})])

    scanning = reloaded(session)
    assert scanning.state == SessionState.SCAN_QR
    assert scanning.qr_code == "2@abc,def"
    assert scanning.qr_expires_at is not None
    assert scanning.qr_expires_at.isoformat() == "2030-01-01T00:00:20+00:00"
    stored = SessionEvent.objects.get()
    assert (stored.session_id, stored.workspace_id, stored.epoch) == (session.pk, session.workspace_id, 3)


def test_a_newer_qr_code_replaces_the_previous_one(hosted: tuple[Worker, str, WhatsAppSession]) -> None:
    _, raw, session = hosted

    post(raw, [event(session, "session.qr", {"code": "2@first"})])
    post(raw, [event(session, "session.qr", {"code": "2@second"})])

    assert reloaded(session).qr_code == "2@second"


def test_a_pairing_code_event_puts_the_session_in_pairing_code(hosted: tuple[Worker, str, WhatsAppSession]) -> None:
    _, raw, session = hosted

    post(raw, [event(session, "session.pairing_code", {"code": "ABCD-EFGH", "phone": "+4915112345678"})])

    pairing = reloaded(session)
    assert (pairing.state, pairing.pairing_code, pairing.pairing_phone) == (
        SessionState.PAIRING_CODE,
        "ABCD-EFGH",
        "+4915112345678",
    )


def test_connected_sets_the_account_and_clears_the_qr_code(hosted: tuple[Worker, str, WhatsAppSession]) -> None:
    _, raw, session = hosted
    post(raw, [event(session, "session.qr", {"code": "2@abc"})])

    post(raw, [event(session, "session.state", {"state": "connected", "account": ACCOUNT})])

    linked = reloaded(session)
    assert linked.state == SessionState.CONNECTED
    assert (linked.phone, linked.jid, linked.push_name) == (ACCOUNT["phone"], ACCOUNT["jid"], ACCOUNT["push_name"])
    assert linked.connected_at is not None
    assert linked.qr_code == ""
    assert linked.desired == Desired.RUN


def test_a_snapshot_event_records_that_the_session_has_a_snapshot(hosted: tuple[Worker, str, WhatsAppSession]) -> None:
    _, raw, session = hosted

    post(raw, [event(session, "session.snapshot", {"bytes": 512})])

    assert reloaded(session).has_snapshot is True


def test_logged_out_clears_the_account_parks_the_session_and_deletes_its_snapshot(
    hosted: tuple[Worker, str, WhatsAppSession], django_capture_on_commit_callbacks: Any
) -> None:
    _, raw, session = hosted
    post(raw, [event(session, "session.state", {"state": "connected", "account": ACCOUNT})])
    post(raw, [event(session, "session.snapshot", {"bytes": 512})])
    path = put_snapshot(session)
    other = put_snapshot(SessionFactory.create())

    with django_capture_on_commit_callbacks(execute=True):
        post(raw, [event(session, "session.state", {"state": "logged_out", "reason": "removed on the phone"})])

    gone = reloaded(session)
    assert gone.state == SessionState.LOGGED_OUT
    assert gone.state_reason == "removed on the phone"
    assert (gone.phone, gone.jid, gone.push_name, gone.connected_at) == ("", "", "", None)
    assert (gone.desired, gone.worker, gone.has_snapshot) == (Desired.STOP, None, False)
    assert not default_storage.exists(path)
    assert default_storage.exists(other)


@pytest.mark.parametrize("state", [SessionState.FAILED, SessionState.STOPPED])
def test_failed_or_stopped_parks_the_session_and_keeps_its_account_and_snapshot(
    hosted: tuple[Worker, str, WhatsAppSession], state: str, django_capture_on_commit_callbacks: Any
) -> None:
    _, raw, session = hosted
    post(raw, [event(session, "session.state", {"state": "connected", "account": ACCOUNT})])
    path = put_snapshot(session)

    with django_capture_on_commit_callbacks(execute=True):
        post(raw, [event(session, "session.state", {"state": state, "reason": "qr_timeout: no scan"})])

    parked = reloaded(session)
    assert (parked.state, parked.state_reason) == (state, "qr_timeout: no scan")
    assert (parked.desired, parked.worker) == (Desired.STOP, None)
    assert parked.phone == ACCOUNT["phone"]
    assert default_storage.exists(path)


def test_a_parked_session_is_not_placed_again_by_a_heartbeat(hosted: tuple[Worker, str, WhatsAppSession]) -> None:
    _, raw, session = hosted
    post(raw, [event(session, "session.state", {"state": "failed", "reason": "boom"})])
    WorkerFactory.create()

    response = worker_client(raw).post("/internal/v1/heartbeat", {"load": 0, "sessions": []}, format="json")

    assert response.json()["sessions"] == []
    assert reloaded(session).worker is None
    assert reloaded(session).state == SessionState.FAILED


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"timestamp": "not a time"}, id="a-time-that-is-not-one"),
        pytest.param({"timestamp": "2026-13-45T99:00:00"}, id="a-date-that-does-not-exist"),
        pytest.param({"timestamp": 1e20}, id="a-time-out-of-range"),
    ],
)
def test_a_message_event_whose_data_can_never_apply_is_refused_not_retried_for_ever(
    hosted: tuple[Worker, str, WhatsAppSession], data: dict[str, Any]
) -> None:
    from sessions_app.models import Message
    from sessions_app.tests.message_helpers import received

    _, raw, session = hosted
    broken = event(session, "message.received", received("3EB0BAD", **data))
    fine = event(session, "message.received", received("3EB0FINE"))

    answer = post(raw, [broken, fine])

    assert answer == {
        "accepted": [fine["id"]],
        "duplicates": [],
        "rejected": [{"id": broken["id"], "code": "invalid_event"}],
    }
    assert list(Message.objects.filter(session=session).values_list("wa_id", flat=True)) == ["3EB0FINE"]
