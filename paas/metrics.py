"""GET /metrics: the platform's state in Prometheus' text format, for the operators' monitoring.

Every figure is read from PostgreSQL when Prometheus scrapes, so any gateway process answers for the whole platform
(no per-process counters to add up). Each is a small query over an index: workers and sessions by state, the
outbox's queued messages and the oldest one's age, the webhook deliveries waiting and those overdue (due for a
minute or more: Celery is not keeping up). Worker nodes serve their own figures at their ``/metrics``.

The endpoint answers only with ``Authorization: Bearer <METRICS_TOKEN>``; without that setting it does not exist
(404), so a deployment exposes nothing it did not choose to.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from sessions_app.models import (
    Delivery,
    DeliveryStatus,
    Direction,
    Message,
    MessageStatus,
    SessionState,
    WhatsAppSession,
)
from workers_app.models import Worker, WorkerState

OVERDUE = timedelta(minutes=1)


class PlatformCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from self._workers()
        yield from self._sessions()
        yield from self._outbox()
        yield from self._deliveries()

    def _workers(self) -> Iterator[Metric]:
        by_state = dict(Worker.objects.values_list("state").annotate(n=Count("pk")))
        workers = GaugeMetricFamily("switchboard_workers", "Worker nodes by state.", labels=["state"])
        for state in WorkerState.values:
            workers.add_metric([state], by_state.get(state, 0))
        yield workers
        load = GaugeMetricFamily("switchboard_worker_load", "Sessions a worker runs, as it last reported.",
                                 labels=["worker", "state"])  # fmt: skip
        capacity = GaugeMetricFamily("switchboard_worker_capacity", "Sessions a worker takes at most.",
                                     labels=["worker", "state"])  # fmt: skip
        silence = GaugeMetricFamily("switchboard_worker_heartbeat_age_seconds", "Seconds since a worker's last "
                                    "heartbeat.", labels=["worker", "state"])  # fmt: skip
        refused = CounterMetricFamily("switchboard_worker_events_refused", "Events a worker posted that ingest "
                                      "refused (sessions or epochs it did not hold, invalid events).",
                                      labels=["worker", "state"])  # fmt: skip
        now = timezone.now()
        for worker in Worker.objects.exclude(state=WorkerState.REVOKED).order_by("name"):
            labels = [worker.name, worker.state]
            load.add_metric(labels, worker.load)
            capacity.add_metric(labels, worker.capacity)
            refused.add_metric(labels, worker.events_refused)
            if worker.last_heartbeat_at is not None:
                silence.add_metric(labels, (now - worker.last_heartbeat_at).total_seconds())
        yield from (load, capacity, silence, refused)

    def _sessions(self) -> Iterator[Metric]:
        counts = WhatsAppSession.objects.values_list("engine", "state").annotate(n=Count("pk"))
        found = {(engine, state): n for engine, state, n in counts}
        sessions = GaugeMetricFamily(
            "switchboard_sessions", "Sessions by engine and state.", labels=["engine", "state"]
        )
        for engine in sorted({engine for engine, _ in found} | set(settings.SESSION_ENGINES)):
            for state in SessionState.values:
                sessions.add_metric([engine, state], found.get((engine, state), 0))
        yield sessions

    def _outbox(self) -> Iterator[Metric]:
        queued = Message.objects.filter(direction=Direction.OUTBOUND, status=MessageStatus.QUEUED)
        summary = queued.aggregate(n=Count("pk"), oldest=Min("created_at"))
        yield GaugeMetricFamily("switchboard_outbox_queued_messages", "Messages accepted and not yet sent.",
                                value=summary["n"])  # fmt: skip
        oldest = summary["oldest"]
        age = (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily("switchboard_outbox_oldest_queued_seconds", "Age of the oldest queued message (0 "
                                "when none is).", value=age)  # fmt: skip

    def _deliveries(self) -> Iterator[Metric]:
        # Finished deliveries have no next attempt: both counts read the next-attempt index, not the whole log.
        waiting = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__isnull=False)
        overdue = waiting.filter(next_attempt_at__lt=timezone.now() - OVERDUE)
        yield GaugeMetricFamily("switchboard_webhook_deliveries_waiting", "Webhook deliveries not yet succeeded or "
                                "given up.", value=waiting.count())  # fmt: skip
        yield GaugeMetricFamily("switchboard_webhook_deliveries_overdue", "Waiting deliveries due for a minute or "
                                "more: the senders are behind.", value=overdue.count())  # fmt: skip


def exposition() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector())
    return generate_latest(registry)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("metrics are not enabled")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("a valid metrics token is required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
