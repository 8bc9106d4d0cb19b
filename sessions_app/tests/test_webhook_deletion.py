"""Deleting a webhook endpoint while its deliveries are in flight, on PostgreSQL with real concurrent transactions:
the delete succeeds, the attempt that outlived the endpoint ends quietly, and nothing of the endpoint is left.

Each race is made to happen, not waited for: the receiver holds the attempt's POST until the test lets it answer,
a transaction of the test holds a row lock the delete must wait for, and the test watches pg_stat_activity for the
transactions that wait on locks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import patch

import pytest
from django.db import connection, transaction
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.models import Membership, Scope, Workspace
from accounts.services.api_keys import api_key_create
from accounts.services.workspaces import workspace_delete
from sessions_app.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint, WhatsAppSession
from sessions_app.services.webhooks.deliveries import delivery_replay
from sessions_app.services.webhooks.endpoints import endpoint_send_test
from sessions_app.tasks import deliver_webhook
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.webhook_helpers import Receiver, Reply, endpoint_for, only_delivery, publish, receiver
from tests.fixtures.accounts import portal_client

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and concurrent transactions: PostgreSQL"),
]


@pytest.fixture(autouse=True)
def _local_webhooks() -> Iterator[None]:
    # Nothing goes to the broker: each attempt is run here, in a thread of the test.
    with (
        override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True, WEBHOOK_RETRY_SCHEDULE=[0, 60]),
        patch.object(deliver_webhook, "delay"),
        patch.object(deliver_webhook, "apply_async"),
    ):
        yield


@pytest.fixture
def session(workspace: Workspace) -> WhatsAppSession:
    session: WhatsAppSession = SessionFactory.create(workspace=workspace)
    return session


class Concurrently:
    """Run ``work`` in a thread of its own (with its own database connection); ``result()`` returns what it
    returned or raises what it raised."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self._work = work
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as error:  # handed to the test by result()
            self._error = error
        finally:
            connection.close()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float = 20) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "still running"
        if self._error is not None:
            raise self._error
        return self._value


def waiting_on_locks() -> int:
    """How many other connections to the test database wait for a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND pid <> pg_backend_pid()"
        )
        (count,) = cursor.fetchone()
    return int(count)


def until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.01)


def holding_the_row_of(delivery: Delivery) -> tuple[Concurrently, threading.Event]:
    """A transaction that holds ``delivery``'s row FOR KEY SHARE until the returned event is set."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {Delivery._meta.db_table} WHERE id = %s FOR KEY SHARE", [delivery.pk])  # noqa: S608
            holding.set()
            release.wait(20)

    holder = Concurrently(hold)
    assert holding.wait(10)
    return holder, release


def delete_through(way: str, endpoint: WebhookEndpoint, owner: Membership) -> Callable[[], int]:
    """The endpoint's deletion as the API or the portal makes it; returns the HTTP status."""
    if way == "api":
        key = api_key_create(workspace=owner.workspace, name="deleter", scopes=[Scope.WEBHOOKS_MANAGE], created_by=None)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key.raw_key}")
        return lambda: api.delete(f"/api/v1/webhooks/{endpoint.pk}").status_code
    portal: Client = portal_client(owner)
    return lambda: portal.post(f"/workspace/webhooks/{endpoint.pk}/", {"action": "delete"}).status_code


def assert_nothing_left_of(endpoint: WebhookEndpoint) -> None:
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not Delivery.objects.filter(endpoint_id=endpoint.pk).exists()
    assert not DeliveryAttempt.objects.exists()


@pytest.fixture
def held() -> Iterator[Receiver]:
    """A receiver that holds each POST until ``released`` is set, then answers as scripted."""
    with receiver(default=Reply(200, hang=30)) as hook:
        yield hook


@pytest.mark.parametrize("way", ["api", "portal"])
@pytest.mark.parametrize("answer", [200, 500])
def test_an_attempt_in_flight_when_its_endpoint_is_deleted_ends_quietly(
    owner: Membership, session: WhatsAppSession, held: Receiver, way: str, answer: int
) -> None:
    endpoint = endpoint_for(owner.workspace, held.url())
    delivery = only_delivery(publish(session))
    held.default = Reply(answer, hang=30)
    sending = Concurrently(lambda: deliver_webhook(str(delivery.pk)))
    held.wait_for(1)  # the POST is out and unanswered

    status = delete_through(way, endpoint, owner)()
    held.released.set()

    sending.result()  # it raised IntegrityError: its attempt named a delivery deleted with the endpoint
    assert status == (204 if way == "api" else 302)
    assert_nothing_left_of(endpoint)


@pytest.mark.parametrize("answer", [200, 500])
def test_an_attempt_logged_while_the_endpoint_is_being_deleted_does_not_fail_the_delete(
    owner: Membership, session: WhatsAppSession, held: Receiver, answer: int
) -> None:
    endpoint = endpoint_for(owner.workspace, held.url())
    delivery = only_delivery(publish(session))
    held.default = Reply(answer, hang=30)
    sending = Concurrently(lambda: deliver_webhook(str(delivery.pk)))
    held.wait_for(1)

    # A transaction that holds the delivery's row (as a foreign-key check does) stops the delete half-way, after it
    # has read the log it deletes and before it has deleted the delivery.
    holder, release = holding_the_row_of(delivery)
    deleting = Concurrently(delete_through("api", endpoint, owner))
    until(lambda: waiting_on_locks() >= 1, "the delete waits for the delivery's row")

    held.released.set()  # the attempt gets its answer and logs it, or waits for the delete to finish
    until(lambda: sending.done or waiting_on_locks() >= 2, "the attempt is logged or waits for the endpoint's row")
    release.set()
    holder.result()

    assert deleting.result() == 204  # it was a 500: the attempt logged meanwhile named a delivery it deleted
    sending.result()
    assert_nothing_left_of(endpoint)


@pytest.mark.parametrize("making", ["event", "replay", "test event"])
def test_deliveries_made_while_the_endpoint_is_deleted_do_not_fail_either_side(
    owner: Membership, session: WhatsAppSession, making: str
) -> None:
    endpoint = endpoint_for(owner.workspace, "http://127.0.0.1:9/hook")
    failed = only_delivery(publish(session))
    make: dict[str, Callable[[], Any]] = {
        "event": lambda: publish(session),
        "replay": lambda: delivery_replay(deliveries=Delivery.objects.filter(pk=failed.pk)),
        "test event": lambda: endpoint_send_test(endpoint=endpoint),
    }
    made, commit = threading.Event(), threading.Event()

    def make_in_a_transaction() -> None:
        with transaction.atomic():
            make[making]()
            made.set()
            commit.wait(20)

    maker = Concurrently(make_in_a_transaction)
    made.wait(10)
    deleting = Concurrently(delete_through("api", endpoint, owner))
    until(lambda: deleting.done or waiting_on_locks() >= 1, "the delete is done or waits for the new deliveries")
    commit.set()

    maker.result()  # it raised IntegrityError at its commit: its new delivery named an endpoint deleted meanwhile
    assert deleting.result() == 204
    assert_nothing_left_of(endpoint)
    assert Event.objects.filter(type="message.received").exists()


def test_a_workspace_deleted_while_an_attempt_is_logged_goes_whole(
    owner: Membership, session: WhatsAppSession, held: Receiver
) -> None:
    workspace = owner.workspace
    endpoint = endpoint_for(workspace, held.url())
    delivery = only_delivery(publish(session))
    sending = Concurrently(lambda: deliver_webhook(str(delivery.pk)))
    held.wait_for(1)
    holder, release = holding_the_row_of(delivery)
    deleting = Concurrently(lambda: workspace_delete(workspace=workspace, actor=owner))
    until(lambda: waiting_on_locks() >= 1, "the delete waits for the delivery's row")

    held.released.set()
    until(lambda: sending.done or waiting_on_locks() >= 2, "the attempt is logged or waits for the endpoint's row")
    release.set()
    holder.result()

    deleting.result()  # it raised IntegrityError: the attempt logged meanwhile named a delivery it deleted
    sending.result()
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert_nothing_left_of(endpoint)
