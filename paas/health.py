"""Liveness (/healthz) and readiness (/readyz) probes for load balancers and orchestrators.

/healthz touches nothing but the process. /readyz checks every dependency the gateway needs to do its job, each with a
short timeout, and answers 503 naming the ones that are down.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from paas.celery import app as celery_app

logger = logging.getLogger(__name__)
CHECK_TIMEOUT = 5.0


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close()  # the probe runs in a short-lived thread; do not leave its connection behind


def check_channel_layer() -> None:
    """A real round trip through the layer: send to a fresh channel and read it back."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")

    async def round_trip() -> None:
        channel = await layer.new_channel()
        marker = uuid.uuid4().hex
        await layer.send(channel, {"type": "readyz.probe", "marker": marker})
        message = await layer.receive(channel)
        if message.get("marker") != marker:
            raise RuntimeError("the channel layer returned another message")

    async_to_sync(round_trip)()


def check_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def check_object_store() -> None:
    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        # The folder appears with the first object; what matters is that it can be created and written.
        os.makedirs(storage.location, exist_ok=True)
        if not os.access(storage.location, os.W_OK):
            raise PermissionError(f"{storage.location} is not writable")
        return
    bucket = getattr(storage, "bucket", None)
    if bucket is None:  # another backend: listing the root proves it is reachable
        storage.listdir("")
        return
    # S3 / MinIO: HEAD on the bucket checks the endpoint, the credentials and that the bucket exists.
    bucket.meta.client.head_bucket(Bucket=bucket.name)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
    "object_store": check_object_store,
}


def _timed(check: Callable[[], None]) -> dict[str, object]:
    started = time.monotonic()
    try:
        check()
    except Exception as error:  # any failure of a dependency is a "down", reported rather than raised
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300], "ms": _ms(started)}
    return {"ok": True, "ms": _ms(started)}


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def run_checks() -> dict[str, dict[str, object]]:
    # Concurrently, so one dependency timing out does not add to another's wait.
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    futures = {name: pool.submit(_timed, check) for name, check in CHECKS.items()}
    deadline = time.monotonic() + CHECK_TIMEOUT
    results: dict[str, dict[str, object]] = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            results[name] = {"ok": False, "error": f"no answer within {CHECK_TIMEOUT:.0f} s"}
    pool.shutdown(wait=False)  # a hung check must not hold the response
    return results


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results = run_checks()
    down = [name for name, result in results.items() if not result["ok"]]
    if down:
        logger.warning("readyz: down: %s", ", ".join(down))
    body = {
        "status": "ok" if not down else "unavailable",
        "down": down,
        "checks": results if settings.DEBUG or down else {name: {"ok": True} for name in results},
    }
    return JsonResponse(body, status=503 if down else 200)
