"""Live publication to channel-layer groups, batched where many changes commit at once.

Every change publishes after commit: the portal's group gets the new state, the event stream's group the event. An
ingest batch commits hundreds of changes together; sending each publication from its own on-commit callback cost
two trips from the request's thread to the event loop per event. Inside ``publication_batch()`` the callbacks only
collect, and the batch is sent in one trip when the block ends, in the order the changes were made. Callbacks still
come from ``transaction.on_commit``, so a change whose savepoint rolled back publishes nothing. Publications to
groups that nobody is in are dropped after one question to Redis for the whole batch, asked from the request's own
thread: when nobody listens (no portal page or event stream of the workspace is open), a batch makes no trip to
the event loop at all.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

logger = logging.getLogger(__name__)
Publication = tuple[str, dict[str, Any]]


@dataclass
class _Batch:
    publications: list[Publication] = field(default_factory=list)
    memo: dict[Any, Any] = field(default_factory=dict)


_current: ContextVar[_Batch | None] = ContextVar("publication_batch", default=None)


@contextmanager
def publication_batch() -> Iterator[None]:
    """Collect publications made in the block and send them when it ends. Nested blocks join the outer one."""
    if _current.get() is not None:
        yield
        return
    token = _current.set(_Batch())
    try:
        yield
    finally:
        batch = _current.get()
        _current.reset(token)
        if batch is not None and batch.publications:
            _send(batch.publications)


def group_send(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to ``group`` now, or at the end of the current batch."""
    batch = _current.get()
    if batch is not None:
        batch.publications.append((group, message))
    else:
        _send([(group, message)])


def batch_memo(key: Any, load: Callable[[], Any]) -> Any:
    """``load()``, remembered for the rest of the current batch (without a batch: every call loads)."""
    batch = _current.get()
    if batch is None:
        return load()
    if key not in batch.memo:
        batch.memo[key] = load()
    return batch.memo[key]


def _send(publications: list[Publication]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        listened = groups_with_members(layer, list(dict.fromkeys(group for group, _ in publications)))
    except Exception:
        listened = None  # Redis did not answer the question: try every group, each send as best effort
    wanted = [(group, message) for group, message in publications if listened is None or group in listened]
    if not wanted:
        return

    async def send_all() -> None:
        # One after another: a group's members see its messages in the order they were made.
        for group, message in wanted:
            try:
                await layer.group_send(group, message)
            except Exception:  # live updates are best effort: the API always answers the stored state
                logger.warning("could not publish to %s", group, exc_info=True)

    async_to_sync(send_all)()


def groups_with_members(layer: Any, groups: list[str]) -> set[str] | None:
    """Which of ``groups`` have members, asked of Redis in one pipelined trip per layer host; None when the layer
    cannot say.

    channels_redis's ``group_send`` costs two trips to Redis even for a group nobody is in, and most of the time
    nobody is: no portal page or event stream of that workspace is open. Asking once for the whole batch lets those
    publications be skipped. A member that joins after the question misses what was published before it joined,
    as it would have a moment earlier; the event stream replays from the stored events (Last-Event-ID). The question
    goes through a synchronous client of the same Redis, so the calling thread need not wait for the event loop.
    It reads channels_redis's group keys directly: paas/INTERNALS.md (3) says what to re-check on an upgrade."""
    if not isinstance(layer, RedisChannelLayer):
        return None  # the in-memory layer's group_send costs no trip
    by_connection: dict[int, list[str]] = {}
    for group in groups:
        by_connection.setdefault(layer.consistent_hash(group), []).append(group)
    found: set[str] = set()
    for index, names in by_connection.items():
        client = _sync_client(layer.hosts[index])
        if client is None:
            return None
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.zcard(layer._group_key(name))
        counts = pipe.execute()
        found.update(name for name, count in zip(names, counts, strict=True) if count)
    return found


_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _sync_client(host: dict[str, Any]) -> redis.Redis | None:
    """A synchronous client for one of the channel layer's hosts (as channels_redis describes it), one pool per host
    and process; None for a Sentinel host, which is left to the layer."""
    if "master_name" in host:
        return None
    key = json.dumps(host, sort_keys=True, default=str)
    with _clients_lock:
        if key not in _clients:
            # Its commands never block (unlike the layer's, which waits on BZPOPMIN): a short timeout, whatever the
            # layer's own is.
            options = {**host, "socket_connect_timeout": 2, "socket_timeout": 2}
            address = options.pop("address", None)
            pool = redis.ConnectionPool.from_url(address, **options) if address else redis.ConnectionPool(**options)
            _clients[key] = redis.Redis(connection_pool=pool)
        return _clients[key]
