"""GET /metrics on a worker node: its own figures in Prometheus' text format (the platform's are the gateway's).

The sessions it runs by state, the events waiting in its spool, and the event requests and events it has shipped
since it started (counters: Prometheus' ``rate()`` turns them into events per second).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from worker_node.host import SessionHost


class WorkerCollector(Collector):
    def __init__(self, host: SessionHost, shipping: dict[str, int]) -> None:
        self.host = host
        self.shipping = shipping

    def collect(self) -> Iterator[Metric]:
        sessions = GaugeMetricFamily("switchboard_node_sessions", "Sessions this worker runs, by state.",
                                     labels=["state"])  # fmt: skip
        for state, count in sorted(Counter(hosted.state for hosted in self.host.hosted.values()).items()):
            sessions.add_metric([state], count)
        yield sessions
        if "events_waiting" in self.shipping:
            yield GaugeMetricFamily("switchboard_node_spool_events", "Events waiting in the spool for the gateway.",
                                    value=self.shipping["events_waiting"])  # fmt: skip
            yield CounterMetricFamily("switchboard_node_event_requests", "Event requests made to the gateway.",
                                      value=self.shipping["event_requests"])  # fmt: skip
            yield CounterMetricFamily("switchboard_node_events_shipped", "Events the gateway confirmed.",
                                      value=self.shipping["events_shipped"])  # fmt: skip


def exposition(host: SessionHost, shipping: dict[str, int]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerCollector(host, shipping))
    return generate_latest(registry)
