"""Every call of a worker carries its own token; a revoked or unknown worker is refused everywhere."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone

from sessions_app.models import SessionEvent
from sessions_app.tests.factories import SessionFactory
from worker_node.contract.tokens import WORKER_TOKEN
from workers_app.models import WorkerState
from workers_app.services.enrollment import enrollment_token_create, worker_revoke
from workers_app.tests.factories import silent_since, worker_with_token
from workers_app.tests.helpers import assert_api_error, worker_client

pytestmark = pytest.mark.django_db
HEARTBEAT = "/internal/v1/heartbeat"
EVENTS = "/internal/v1/events"
SHUTDOWN = "/internal/v1/workers/shutdown"
REGISTER = "/internal/v1/workers/register"
PROFILE = {"name": "w", "advertise_url": "http://10.0.0.5:8100", "engine": "sandbox", "capacity": 5}


def _event_batch() -> dict[str, Any]:
    return {
        "events": [
            {
                "id": str(uuid.uuid4()),
                "session_id": str(uuid.uuid4()),
                "epoch": 1,
                "type": "session.state",
                "occurred_at": timezone.now().isoformat(),
                "data": {"state": "connected"},
            }
        ]
    }


CALLS = [
    pytest.param(REGISTER, PROFILE, id="register"),
    pytest.param(HEARTBEAT, {"load": 0, "sessions": [], "stored": []}, id="heartbeat"),
    pytest.param(EVENTS, None, id="events"),
    pytest.param(SHUTDOWN, {}, id="shutdown"),
]


@pytest.mark.parametrize(("path", "body"), CALLS)
def test_a_revoked_worker_is_refused_on_every_call(path: str, body: dict[str, Any] | None) -> None:
    worker, raw = worker_with_token(last_heartbeat_at=silent_since(20), load=2)
    session = SessionFactory.create(worker=None)
    worker_revoke(worker=worker)
    if body is None:
        body = _event_batch()
        body["events"][0]["session_id"] = str(session.pk)

    response = worker_client(raw).post(path, body, format="json")

    assert_api_error(response, 401, "worker_revoked")
    worker.refresh_from_db()
    assert worker.state == WorkerState.REVOKED
    assert worker.load == 2
    assert worker.last_heartbeat_at is not None
    assert worker.last_heartbeat_at < silent_since(10)
    assert not SessionEvent.objects.exists()


@pytest.mark.parametrize(("path", "body"), [c for c in CALLS if c.id != "register"])
def test_an_unknown_worker_token_is_refused(path: str, body: dict[str, Any] | None) -> None:
    response = worker_client(WORKER_TOKEN.issue().raw).post(path, body or _event_batch(), format="json")

    assert_api_error(response, 401, "worker_token_invalid")
    assert response["WWW-Authenticate"] == 'Bearer realm="workers"'


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(lambda raw: f"Token {raw}", id="wrong-scheme"),
        pytest.param(lambda raw: f"Bearer {raw} extra", id="extra-parts"),
    ],
)
def test_a_malformed_authorization_header_is_refused(header: Any) -> None:
    _, raw = worker_with_token()
    client = worker_client()
    client.credentials(HTTP_AUTHORIZATION=header(raw))

    response = client.post(HEARTBEAT, {"load": 0, "sessions": [], "stored": []}, format="json")

    assert_api_error(response, 401, "malformed_worker_token")


@pytest.mark.parametrize(("path", "body"), [c for c in CALLS if c.id != "register"])
def test_a_call_without_a_token_is_refused(path: str, body: dict[str, Any] | None) -> None:
    response = worker_client().post(path, body or _event_batch(), format="json")

    assert_api_error(response, 401, "not_authenticated")


def test_an_enrollment_token_is_not_a_worker_token() -> None:
    enrollment = enrollment_token_create(name="pool")

    response = worker_client(enrollment.raw).post(HEARTBEAT, {"load": 0, "sessions": [], "stored": []}, format="json")

    assert_api_error(response, 401, "worker_token_invalid")
