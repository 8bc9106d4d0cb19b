"""Webhook delivery: retries on the schedule until a 2xx, 410 disables, timeouts and redirects fail the attempt,
Retry-After is honoured, five days of failures disable and mail the owners, every attempt is logged, and replays and
test events go out as new deliveries of the same event."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from email.utils import formatdate
from typing import Any
from unittest.mock import MagicMock, patch

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership, Workspace
from sessions_app.models import Delivery, DeliveryStatus, Event, WebhookEndpoint, WhatsAppSession
from sessions_app.services.customer_events.publish import events_group
from sessions_app.services.webhooks import deliveries as webhooks
from sessions_app.services.webhooks.endpoints import endpoint_send_test
from sessions_app.tasks import deliver_webhook, sweep_webhooks
from sessions_app.tests.factories import SessionFactory
from sessions_app.tests.webhook_helpers import Receiver, Reply, drive, endpoint_for, only_delivery, publish
from tests.fixtures.services import free_port
from worker_node.contract import netguard

pytestmark = pytest.mark.django_db
FAST = [0, 0.1, 0.1, 0.1, 0.1]


@pytest.fixture(autouse=True)
def _fast_local_webhooks() -> Iterator[None]:
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True, WEBHOOK_RETRY_SCHEDULE=FAST):
        yield


@pytest.fixture
def session(workspace: Workspace) -> WhatsAppSession:
    session: WhatsAppSession = SessionFactory.create(workspace=workspace, name="Sales", phone="+15550100001")
    return session


def reloaded(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(pk=endpoint.pk)


def test_a_receiver_failing_three_times_gets_the_event_once_more_and_the_log_shows_four_attempts(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    hook.script(Reply(500), Reply(500), Reply(500))
    event = publish(session)

    delivery = drive(only_delivery(event))

    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 4, 200)
    assert delivery.completed_at is not None
    assert delivery.next_attempt_at is None
    assert [a.status_code for a in delivery.attempts.all()] == [500, 500, 500, 200]
    assert [r.webhook_id for r in hook.requests] == [str(event.pk)] * 4
    assert all(r.body == hook.requests[0].body for r in hook.requests)
    gaps = [later.at - earlier.at for earlier, later in zip(hook.requests, hook.requests[1:], strict=False)]
    assert min(gaps) >= 0.1 * 0.9  # each retry waited its turn in the schedule (with jitter)


@override_settings(WEBHOOK_RETRY_SCHEDULE=[0, 0.1, 0.1])
def test_after_the_last_scheduled_attempt_the_delivery_fails_for_good(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    hook.default = Reply(500)

    delivery = drive(only_delivery(publish(session)))

    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.FAILED, 3)
    assert deliver_webhook(str(delivery.pk)) is None
    assert len(hook.requests) == 3
    assert reloaded(endpoint).enabled  # a failed delivery alone does not disable the endpoint


@override_settings(WEBHOOK_RETRY_SCHEDULE=[0, 2])
def test_a_failed_attempt_is_retried_only_when_due_and_enqueued_after_commit(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint, django_capture_on_commit_callbacks: Any
) -> None:
    hook.script(Reply(500))
    delivery = only_delivery(publish(session))

    with patch("sessions_app.tasks.deliver_webhook.apply_async") as enqueue:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            deliver_webhook(str(delivery.pk))
        assert not enqueue.called
        for callback in callbacks:
            callback()
    deliver_webhook(str(delivery.pk))  # not due yet: nothing is sent

    assert len(hook.requests) == 1
    [call] = enqueue.call_args_list
    assert call.args == ((str(delivery.pk),),)
    assert 1.8 - 0.05 <= call.kwargs["countdown"] <= 2.2
    pending = Delivery.objects.get(pk=delivery.pk)
    assert pending.status == DeliveryStatus.PENDING
    assert pending.next_attempt_at is not None
    wait = (pending.next_attempt_at - pending.attempts.get().attempted_at).total_seconds()
    assert 1.8 - 0.05 <= wait <= 2.2 + 0.05


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_a_success(session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint, status: int) -> None:
    hook.script(Reply(status, body=b""))

    delivery = drive(only_delivery(publish(session)))

    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 1, status)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint, status: int
) -> None:
    hook.script(Reply(status, headers={"Location": hook.url("/elsewhere")}))
    delivery = only_delivery(publish(session))

    deliver_webhook(str(delivery.pk))

    # The attempt is synchronous and the receiver records a request before answering it: a followed redirect
    # would be among the requests by now.
    assert [r.path for r in hook.requests] == ["/hook"]
    after = Delivery.objects.get(pk=delivery.pk)
    assert (after.status, after.attempt_count, after.last_status_code) == (DeliveryStatus.PENDING, 1, status)
    assert after.attempts.get().status_code == status


def test_410_disables_the_endpoint_and_further_deliveries_stop(
    session: WhatsAppSession,
    hook: Receiver,
    endpoint: WebhookEndpoint,
    owner: Membership,
    django_capture_on_commit_callbacks: Any,
) -> None:
    hook.script(Reply(410, body=b"gone"))
    first, second = only_delivery(publish(session)), only_delivery(publish(session))

    with patch("sessions_app.tasks.deliver_webhook.apply_async"), django_capture_on_commit_callbacks(execute=True):
        assert drive(first).status == DeliveryStatus.FAILED
        assert drive(second).status == DeliveryStatus.FAILED  # queued before the 410: not sent
    third = publish(session)

    gone = reloaded(endpoint)
    assert not gone.enabled
    assert "410" in gone.disabled_reason
    assert len(hook.requests) == 1
    assert Delivery.objects.get(pk=second.pk).attempt_count == 0
    assert not Delivery.objects.filter(event=third).exists()
    assert [m.to for m in mail.outbox] == [[owner.user.email]]


@override_settings(WEBHOOK_TIMEOUT=0.5)
def test_a_hanging_receiver_is_cut_at_the_timeout(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    hook.script(Reply(200, hang=10))
    delivery = only_delivery(publish(session))

    started = time.monotonic()
    deliver_webhook(str(delivery.pk))

    assert time.monotonic() - started < 2.5
    attempt = Delivery.objects.get(pk=delivery.pk).attempts.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("timeout")
    assert attempt.latency_ms is not None
    assert 450 <= attempt.latency_ms < 2500
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING  # to be retried


@override_settings(WEBHOOK_TIMEOUT=1)
def test_a_receiver_that_trickles_its_answer_is_cut_at_the_timeout(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    # Each byte comes well within the timeout, so only a deadline for the whole answer stops it.
    hook.script(Reply(200, body=b"x" * 40, trickle=0.1))
    delivery = only_delivery(publish(session))

    started = time.monotonic()
    deliver_webhook(str(delivery.pk))

    assert time.monotonic() - started < 2.5
    after = Delivery.objects.get(pk=delivery.pk)
    assert after.status == DeliveryStatus.PENDING
    assert after.attempts.get().error.startswith("timeout")


def test_the_default_timeout_is_15_seconds(session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint) -> None:
    # Not by hanging for 15 s: that a hanging receiver is cut at the timeout, whatever it is, is
    # test_a_hanging_receiver_is_cut_at_the_timeout's; here, that the default is 15 s and the attempt is given it.
    delivery = only_delivery(publish(session))

    with patch.object(netguard, "request", wraps=netguard.request) as request:
        deliver_webhook(str(delivery.pk))  # the configured default: WEBHOOK_TIMEOUT is not overridden here

    assert settings.WEBHOOK_TIMEOUT == 15
    assert request.call_args.kwargs["timeout"] == 15
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED


@pytest.mark.parametrize("status", [429, 503])
@override_settings(WEBHOOK_RETRY_SCHEDULE=[0, 0.1, 0.1, 60])
def test_retry_after_in_seconds_delays_the_next_attempt_at_least_that_long(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint, status: int
) -> None:
    hook.script(Reply(status, headers={"Retry-After": "1"}))

    delivery = drive(only_delivery(publish(session)))

    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [a.status_code for a in delivery.attempts.all()] == [status, 200]
    assert hook.requests[1].at - hook.requests[0].at >= 1.0


@pytest.mark.parametrize("status", [429, 503])
@override_settings(WEBHOOK_RETRY_SCHEDULE=[0, 5, 300])
def test_retry_after_as_a_date_delays_the_next_attempt_until_then(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint, status: int
) -> None:
    hook.script(Reply(status, headers={"Retry-After": formatdate(time.time() + 120, usegmt=True)}))
    delivery = only_delivery(publish(session))

    deliver_webhook(str(delivery.pk))

    after = Delivery.objects.get(pk=delivery.pk)
    assert after.next_attempt_at is not None
    assert (after.next_attempt_at - timezone.now()).total_seconds() >= 115  # not the schedule's 5 s


def test_retry_after_is_ignored_for_other_failures(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    hook.script(Reply(500, headers={"Retry-After": "3600"}))
    delivery = only_delivery(publish(session))

    deliver_webhook(str(delivery.pk))

    after = Delivery.objects.get(pk=delivery.pk)
    assert after.next_attempt_at is not None
    assert (after.next_attempt_at - timezone.now()).total_seconds() < 1


@pytest.mark.parametrize(
    ("failing_for", "disabled"), [(timedelta(days=5, minutes=1), True), (timedelta(days=4), False)]
)
def test_five_days_of_failures_disable_the_endpoint_and_mail_the_owners(
    session: WhatsAppSession,
    hook: Receiver,
    endpoint: WebhookEndpoint,
    owner: Membership,
    admin: Membership,
    member: Membership,
    outsider: Membership,
    django_capture_on_commit_callbacks: Any,
    failing_for: timedelta,
    disabled: bool,
) -> None:
    hook.default = Reply(500)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - failing_for)
    delivery = only_delivery(publish(session))

    with patch("sessions_app.tasks.deliver_webhook.apply_async"), django_capture_on_commit_callbacks(execute=True):
        deliver_webhook(str(delivery.pk))

    after = reloaded(endpoint)
    assert after.enabled is not disabled
    if disabled:
        assert "5 days" in after.disabled_reason
        assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED
        [message] = mail.outbox
        assert message.to == [owner.user.email]
        assert endpoint.url in message.body
    else:
        assert after.disabled_reason == ""
        assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING
        assert mail.outbox == []


def test_the_failing_period_starts_at_the_first_failure_and_ends_at_a_success(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    hook.script(Reply(500))
    delivery = only_delivery(publish(session))

    before = timezone.now()
    deliver_webhook(str(delivery.pk))
    failing_since = reloaded(endpoint).failing_since
    drive(delivery)

    assert failing_since is not None
    assert before <= failing_since <= timezone.now()
    assert reloaded(endpoint).failing_since is None


def test_each_attempt_logs_its_time_status_latency_the_first_1000_characters_and_the_error(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    hook.script(Reply(500, body=("é" * 1500).encode(), hang=0.2))
    delivery = only_delivery(publish(session))

    before = timezone.now()
    deliver_webhook(str(delivery.pk))
    after = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=f"http://127.0.0.1:{free_port()}/hook")  # nobody there
    # Due now, as the retry schedule's 0.1 s would make it: the second attempt is logged without waiting for it.
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    deliver_webhook(str(delivery.pk))

    answered, refused = Delivery.objects.get(pk=delivery.pk).attempts.all()
    assert before <= answered.attempted_at <= after
    assert answered.status_code == 500
    assert answered.latency_ms is not None
    assert answered.latency_ms >= 200
    assert answered.response_snippet == "é" * 1000
    assert answered.error == ""
    assert refused.attempted_at > answered.attempted_at
    assert refused.status_code is None
    assert refused.response_snippet == ""
    assert refused.error.startswith("unreachable")


@override_settings(WEBHOOK_RETRY_SCHEDULE=[0])
def test_replaying_a_delivery_sends_the_same_event_again_as_a_new_delivery(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    hook.script(Reply(500))
    event = publish(session)
    failed = drive(only_delivery(event))

    assert webhooks.delivery_replay(deliveries=Delivery.objects.filter(pk=failed.pk)) == 1
    [again] = Delivery.objects.exclude(pk=failed.pk)
    assert again.event_id == event.pk
    assert drive(again).status == DeliveryStatus.SUCCEEDED

    assert [r.webhook_id for r in hook.requests] == [str(event.pk)] * 2
    assert hook.requests[0].body == hook.requests[1].body
    assert Delivery.objects.get(pk=failed.pk).status == DeliveryStatus.FAILED  # the log of the first stays as it was


@override_settings(WEBHOOK_RETRY_SCHEDULE=[0])
def test_replaying_since_a_time_resends_every_failed_delivery_made_since_then(
    workspace: Workspace, session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    other = endpoint_for(workspace, hook.url("/other"))
    hook.default = Reply(500)
    old, recent, later, succeeded = (publish(session) for _ in range(4))
    for event in (old, recent, later):
        for delivery in Delivery.objects.filter(event=event):
            drive(delivery)
    Delivery.objects.filter(event=old).update(created_at=timezone.now() - timedelta(hours=2))
    hook.default = Reply(200)
    for delivery in Delivery.objects.filter(event=succeeded):
        drive(delivery)
    sent_before = len(hook.requests)

    count = webhooks.delivery_replay(
        deliveries=webhooks.failed_since(endpoint=endpoint, since=timezone.now() - timedelta(hours=1))
    )

    replays = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    assert count == replays.count() == 2
    assert {d.endpoint_id for d in replays} == {endpoint.pk}  # not the other endpoint's failures
    for delivery in replays:
        drive(delivery)
    assert sorted(r.webhook_id for r in hook.requests[sent_before:]) == sorted([str(recent.pk), str(later.pk)])
    assert all(r.path == "/hook" for r in hook.requests[sent_before:])
    assert Delivery.objects.filter(endpoint=other, status=DeliveryStatus.FAILED).count() == 3


def test_the_test_event_is_delivered_on_demand(workspace: Workspace, hook: Receiver, endpoint: WebhookEndpoint) -> None:
    delivery = endpoint_send_test(endpoint=endpoint)

    assert drive(delivery).status == DeliveryStatus.SUCCEEDED
    [request] = hook.requests
    body = request.json()
    assert (body["type"], body["workspace"], body["data"]) == (
        "webhook.test",
        str(workspace.pk),
        {"endpoint": str(endpoint.pk)},
    )
    assert request.webhook_id == body["id"] == str(delivery.event_id)
    assert Event.objects.get(pk=delivery.event_id).type == "webhook.test"


def test_an_event_gets_a_delivery_for_each_interested_endpoint_only(
    workspace: Workspace, session: WhatsAppSession, outsider: Membership, hook: Receiver
) -> None:
    everything = endpoint_for(workspace, hook.url("/all"))
    received = endpoint_for(workspace, hook.url("/received"), event_types=["message.received"])
    this_session = endpoint_for(workspace, hook.url("/session"), session_ids=[session.pk])
    endpoint_for(workspace, hook.url("/status"), event_types=["session.status"])
    endpoint_for(workspace, hook.url("/other-session"), session_ids=[SessionFactory.create(workspace=workspace).pk])
    endpoint_for(workspace, hook.url("/off"), enabled=False)
    endpoint_for(outsider.workspace, hook.url("/outsider"))

    event = publish(session, "message.received")

    assert {d.endpoint_id for d in Delivery.objects.filter(event=event)} == {
        everything.pk,
        received.pk,
        this_session.pk,
    }
    assert all(d.workspace_id == workspace.pk for d in Delivery.objects.filter(event=event))


def test_deliveries_are_enqueued_and_the_event_streamed_only_after_commit(
    workspace: Workspace, session: WhatsAppSession, endpoint: WebhookEndpoint, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        patch("sessions_app.tasks.deliver_webhook.delay") as enqueue,
        patch("sessions_app.services.customer_events.publish.group_send") as stream,
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            event = publish(session, "message.received", text="hi")
        assert not enqueue.called
        assert not stream.called
        for callback in callbacks:
            callback()

    enqueue.assert_called_once_with(str(only_delivery(event).pk))
    stream.assert_called_once_with(events_group(workspace.pk), {"type": "event.new", "envelope": event.envelope})


def test_a_delivery_the_broker_did_not_take_is_sent_by_the_sweep(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        patch("sessions_app.tasks.deliver_webhook.delay", side_effect=ConnectionError("broker down")),
        patch("sessions_app.services.customer_events.publish.group_send"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        event = publish(session)  # the enqueue fails and is only logged

    enqueued = MagicMock()
    with patch("sessions_app.tasks.deliver_webhook.delay", enqueued):
        assert sweep_webhooks() == 1
    enqueued.assert_called_once_with(str(only_delivery(event).pk))


@override_settings(WEBHOOK_LEASE_SECONDS=1)
def test_an_attempt_whose_worker_died_is_taken_up_again_when_its_lease_runs_out(
    session: WhatsAppSession, hook: Receiver, endpoint: WebhookEndpoint
) -> None:
    delivery = only_delivery(publish(session))
    assert webhooks.claim(str(delivery.pk)) is not None  # a worker took it, then died before sending

    assert webhooks.claim(str(delivery.pk)) is None  # nobody else sends it while the lease holds
    assert webhooks.due_deliveries() == []
    # The clock moves past the 1 s lease instead of the test waiting it out.
    later = timezone.now() + timedelta(seconds=1.1)
    with patch.object(timezone, "now", lambda: later):
        assert webhooks.due_deliveries() == [str(delivery.pk)]
        assert drive(delivery).status == DeliveryStatus.SUCCEEDED
    assert [r.webhook_id for r in hook.requests] == [str(delivery.event_id)]


def _endpoint_locks(delivery: Delivery, status_code: int) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        webhooks._settle(delivery, status_code, None)
    statements = [query["sql"] for query in queries.captured_queries]
    return [sql for sql in statements if "FOR NO KEY UPDATE" in sql and "webhookendpoint" in sql]


def test_a_success_settles_without_locking_the_endpoint_and_a_failure_locks_it(
    session: WhatsAppSession, endpoint: WebhookEndpoint
) -> None:
    """Deliveries to a busy endpoint must not wait for each other's commits on its row; failures keep its failing
    period consistent under the lock."""
    if not connection.features.has_select_for_update:
        pytest.skip("this database has no row locks (SQLite, the embedded default)")
    first, second = only_delivery(publish(session)), only_delivery(publish(session))
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now())

    assert _endpoint_locks(first, 200) == []
    assert reloaded(endpoint).failing_since is None
    assert len(_endpoint_locks(second, 500)) == 1
    assert reloaded(endpoint).failing_since is not None
