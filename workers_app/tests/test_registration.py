"""POST /internal/v1/workers/register: enrolling with an enrollment token, and coming back with the worker's own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from worker_node.contract.tokens import ENROLLMENT_TOKEN, WORKER_TOKEN, hash_token
from workers_app.models import EnrollmentToken, Worker, WorkerState
from workers_app.services.enrollment import enrollment_token_create, enrollment_token_revoke, worker_revoke
from workers_app.tests.factories import silent_since, worker_with_token
from workers_app.tests.helpers import assert_api_error, worker_client

pytestmark = pytest.mark.django_db
REGISTER = "/internal/v1/workers/register"


def profile(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "eu-1",
        "advertise_url": "http://10.0.0.5:8100",
        "engine": "sandbox",
        "capacity": 50,
        "version": "0.1.0",
        **overrides,
    }


def test_a_valid_enrollment_token_registers_a_new_worker_with_its_own_token() -> None:
    enrollment = enrollment_token_create(name="pool")

    response = worker_client().post(REGISTER, {**profile(), "enrollment_token": enrollment.raw}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    raw = body["worker_token"]
    assert raw.startswith("sbw_")
    assert WORKER_TOKEN.is_well_formed(raw)
    assert body["heartbeat_interval"] == settings.WORKER_HEARTBEAT_SECONDS
    worker = Worker.objects.get(pk=body["worker_id"])
    assert (worker.name, worker.advertise_url, worker.engine, worker.capacity, worker.version) == (
        "eu-1",
        "http://10.0.0.5:8100",
        "sandbox",
        50,
        "0.1.0",
    )
    assert worker.state == WorkerState.ACTIVE
    assert worker.enrolled_with == enrollment.token
    enrollment.token.refresh_from_db()
    assert enrollment.token.uses == 1


def test_the_worker_token_is_stored_only_as_its_hash() -> None:
    enrollment = enrollment_token_create(name="pool")

    body = worker_client().post(REGISTER, {**profile(), "enrollment_token": enrollment.raw}, format="json").json()

    raw = body["worker_token"]
    row = Worker.objects.filter(pk=body["worker_id"]).values().get()
    assert row["token_hash"] == hash_token(raw)
    assert raw not in [str(value) for value in row.values()]
    assert raw.startswith(row["token_prefix"])
    assert len(row["token_prefix"]) < len(raw)


def _well_formed_but_unknown() -> str:
    return ENROLLMENT_TOKEN.issue().raw


def _bad_checksum(raw: str) -> str:
    return raw[:-1] + ("A" if raw[-1] != "A" else "B")


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param(lambda raw: _well_formed_but_unknown(), id="unknown"),
        pytest.param(_bad_checksum, id="bad-checksum"),
        pytest.param(lambda raw: raw[:-1], id="truncated"),
        pytest.param(lambda raw: "sbw_" + raw.removeprefix("sbe_"), id="worker-prefix"),
        pytest.param(lambda raw: "", id="blank"),
    ],
)
def test_a_wrong_or_malformed_enrollment_token_is_refused(presented: Callable[[str], str]) -> None:
    enrollment = enrollment_token_create(name="pool")

    response = worker_client().post(
        REGISTER, {**profile(), "enrollment_token": presented(enrollment.raw)}, format="json"
    )

    assert_api_error(response, 401, "enrollment_token_invalid")
    assert not Worker.objects.exists()
    enrollment.token.refresh_from_db()
    assert enrollment.token.uses == 0


def test_a_registration_without_any_token_is_refused() -> None:
    response = worker_client().post(REGISTER, profile(), format="json")

    assert_api_error(response, 401, "enrollment_token_invalid")
    assert not Worker.objects.exists()


def _expired(token: EnrollmentToken) -> None:
    EnrollmentToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def _used_up(token: EnrollmentToken) -> None:
    EnrollmentToken.objects.filter(pk=token.pk).update(max_uses=3, uses=3)


def _revoked(token: EnrollmentToken) -> None:
    enrollment_token_revoke(token=token)


@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        pytest.param(_expired, "enrollment_token_expired", id="expired"),
        pytest.param(_used_up, "enrollment_token_used_up", id="used-up"),
        pytest.param(_revoked, "enrollment_token_revoked", id="revoked"),
    ],
)
def test_an_enrollment_token_that_can_no_longer_be_used_is_refused_with_its_own_code(
    spoil: Callable[[EnrollmentToken], None], code: str
) -> None:
    enrollment = enrollment_token_create(name="pool")
    spoil(enrollment.token)

    response = worker_client().post(REGISTER, {**profile(), "enrollment_token": enrollment.raw}, format="json")

    assert_api_error(response, 401, code)
    assert not Worker.objects.exists()


def test_an_enrollment_token_with_an_expiry_in_the_future_still_works() -> None:
    enrollment = enrollment_token_create(name="pool", expires_at=timezone.now() + timedelta(hours=1))

    response = worker_client().post(REGISTER, {**profile(), "enrollment_token": enrollment.raw}, format="json")

    assert response.status_code == 201, response.content


def test_an_enrollment_token_enrolls_at_most_max_uses_workers() -> None:
    enrollment = enrollment_token_create(name="pool", max_uses=2)
    client = worker_client()

    first = client.post(REGISTER, {**profile(name="a"), "enrollment_token": enrollment.raw}, format="json")
    second = client.post(REGISTER, {**profile(name="b"), "enrollment_token": enrollment.raw}, format="json")
    third = client.post(REGISTER, {**profile(name="c"), "enrollment_token": enrollment.raw}, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert_api_error(third, 401, "enrollment_token_used_up")
    assert sorted(Worker.objects.values_list("name", flat=True)) == ["a", "b"]


def test_an_invalid_profile_is_refused_without_using_up_the_token() -> None:
    enrollment = enrollment_token_create(name="pool", max_uses=1)
    client = worker_client()

    refused = client.post(
        REGISTER,
        {**profile(engine="telegram", capacity=0, advertise_url="not a url"), "enrollment_token": enrollment.raw},
        format="json",
    )
    accepted = client.post(REGISTER, {**profile(), "enrollment_token": enrollment.raw}, format="json")

    error = assert_api_error(refused, 400, "validation_error")
    assert {"engine", "capacity", "advertise_url"} <= set(error["details"])
    assert accepted.status_code == 201, accepted.content


def test_a_worker_re_registering_with_its_own_token_comes_back_as_the_same_worker() -> None:
    worker, raw = worker_with_token(
        name="old-name", capacity=5, state=WorkerState.DEAD, last_heartbeat_at=silent_since(600)
    )
    token_hash = worker.token_hash

    response = worker_client(raw).post(REGISTER, profile(name="new-name", capacity=80), format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["worker_id"] == str(worker.pk)
    assert "worker_token" not in body
    assert Worker.objects.count() == 1
    worker.refresh_from_db()
    assert worker.token_hash == token_hash
    assert (worker.name, worker.capacity) == ("new-name", 80)
    assert worker.state == WorkerState.ACTIVE
    assert worker.last_heartbeat_at is not None
    assert worker.last_heartbeat_at > silent_since(60)


def test_re_registering_with_an_own_token_does_not_need_or_use_an_enrollment_token() -> None:
    enrollment = enrollment_token_create(name="pool", max_uses=1)
    worker, raw = worker_with_token()

    response = worker_client(raw).post(REGISTER, {**profile(), "enrollment_token": enrollment.raw}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["worker_id"] == str(worker.pk)
    enrollment.token.refresh_from_db()
    assert enrollment.token.uses == 0


def test_re_registering_with_an_unknown_worker_token_is_refused() -> None:
    response = worker_client(WORKER_TOKEN.issue().raw).post(REGISTER, profile(), format="json")

    assert_api_error(response, 401, "worker_token_invalid")
    assert not Worker.objects.exists()


def test_a_revoked_worker_cannot_register_again() -> None:
    worker, raw = worker_with_token()
    worker_revoke(worker=worker)

    response = worker_client(raw).post(REGISTER, profile(), format="json")

    assert_api_error(response, 401, "worker_revoked")
    worker.refresh_from_db()
    assert worker.state == WorkerState.REVOKED
