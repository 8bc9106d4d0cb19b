"""Factories for workers and enrollment tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from worker_node.contract.tokens import WORKER_TOKEN
from workers_app.models import Engine, Worker, WorkerState

# Nothing listens there: commands the gateway sends after commit fail at once and are only logged.
UNREACHABLE_URL = "http://127.0.0.1:9"


class WorkerFactory(factory.django.DjangoModelFactory[Worker]):
    """An active, live sandbox worker. Pass ``token=WORKER_TOKEN.issue()`` to keep the raw token."""

    class Meta:
        model = Worker

    class Params:
        token = factory.LazyFunction(WORKER_TOKEN.issue)

    name = factory.Sequence(lambda n: f"worker-{n}")
    advertise_url = UNREACHABLE_URL
    engine = Engine.SANDBOX
    capacity = 10
    state = WorkerState.ACTIVE
    token_prefix = factory.LazyAttribute(lambda o: o.token.prefix)
    token_hash = factory.LazyAttribute(lambda o: o.token.hash)
    last_heartbeat_at = factory.LazyFunction(timezone.now)


def worker_with_token(**fields: Any) -> tuple[Worker, str]:
    """A worker and the raw token it authenticates with."""
    issued = WORKER_TOKEN.issue()
    return WorkerFactory.create(token=issued, **fields), issued.raw


def silent_since(seconds: float) -> Any:
    """A heartbeat time ``seconds`` ago."""
    return timezone.now() - timedelta(seconds=seconds)
