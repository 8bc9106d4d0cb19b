"""Shared pytest fixtures: real services (S3 via moto, the browser) and the owner / member / outsider set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.accounts",
    "tests.fixtures.browser",
    "tests.fixtures.platform",
]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's, and at the end the connections left to the test database are ended before it is dropped:
    psycopg_pool closes only the connections it holds, so one that a thread of this process still held (the ORM
    keeps one per thread) failed the DROP DATABASE, and the database was left behind."""
    yield
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


# Seconds each of the slowest files takes (pytest --durations=40, serial, 2 cores). Under pytest-xdist's worksteal
# scheduler they are spread over the workers before anything starts, so that the run does not end waiting on one of
# them started last; see spread_slowest_first.
SLOWEST = {
    "tests/test_api_schema_contract.py": 180,
    "tests/test_live_sockets_idle_e2e.py": 70,
    "tests/test_runtime_requirements_e2e.py": 65,
    "tests/test_messaging_e2e.py": 65,
    "tests/test_browser_csp.py": 50,
    "tests/test_make_run.py": 40,
    "tests/test_webhooks_e2e.py": 30,
    "tests/test_gateway_process.py": 25,
    "tests/test_session_lifecycle_e2e.py": 25,
    "tests/test_browser_shell.py": 20,
    "tests/test_browser_sessions.py": 20,
}


@pytest.hookimpl(trylast=True)  # after pytest-django's own ordering, which every other test keeps
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workers = getattr(config, "workerinput", {}).get("workercount")
    if workers:
        items[:] = spread_slowest_first(items, workers)


def spread_slowest_first(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """The order for worksteal: it first hands each worker a consecutive share of the collection, then lets an idle
    worker take the back half of the longest queue. Each share starts with slow files packed longest first onto
    the share with the least work (so the schema contract has a worker to itself), then takes its part of the others
    in their order; stealing then moves only short tests, from the backs of the shares."""
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    slow = sorted((path for path in by_file if path in SLOWEST), key=lambda path: -SLOWEST[path])
    rest = [item for item in items if item.nodeid.split("::", 1)[0] not in SLOWEST]
    # The shares' sizes as worksteal cuts them: len(pending) // workers left, in turn.
    sizes, left = [], len(items)
    for remaining in range(workers, 0, -1):
        sizes.append(left // remaining)
        left -= sizes[-1]
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for path in slow:
        share = min(range(workers), key=lambda n: (load[n], n))
        heads[share] += by_file[path]
        load[share] += SLOWEST[path]
    ordered: list[pytest.Item] = []
    for head, size in zip(heads, sizes, strict=True):
        take = max(size - len(head), 0)
        ordered += head + rest[:take]
        rest = rest[take:]
    return ordered + rest
