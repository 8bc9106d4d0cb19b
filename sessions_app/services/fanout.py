"""Live publication to channel-layer groups, batched where many changes commit at once.

Every change publishes after commit: the portal's group gets the new state, the event stream's group the event. An
ingest batch commits hundreds of changes together; sending each publication from its own on-commit callback cost
two trips from the request's thread to the event loop per event. Inside ``publication_batch()`` the callbacks only
collect, and the batch is sent in one trip when the block ends, in the order the changes were made. Callbacks still
come from ``transaction.on_commit``, so a change whose savepoint rolled back publishes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

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

    async def send_all() -> None:
        # One after another: a group's members see its messages in the order they were made.
        for group, message in publications:
            try:
                await layer.group_send(group, message)
            except Exception:  # live updates are best effort: the API always answers the stored state
                logger.warning("could not publish to %s", group, exc_info=True)

    async_to_sync(send_all)()
