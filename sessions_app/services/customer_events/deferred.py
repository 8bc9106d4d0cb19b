"""Rows written together at the end of a block: one INSERT per table instead of one per row.

An ingest batch records a session event for every worker event and a customer event (with its webhook deliveries)
for most of them; nothing in the batch reads those rows back. On the first attempt of a batch, which has no
savepoints and is rolled back as a whole if anything fails, they are collected and written when the batch ends,
inside its transaction: a batch of three events writes them in three statements instead of eight or more.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models

_pending: ContextVar[dict[type[models.Model], list[models.Model]] | None] = ContextVar("deferred_rows", default=None)


@contextmanager
def deferred_inserts() -> Iterator[None]:
    """Rows handed to :func:`insert` in the block are written when it ends, one ``bulk_create`` per model, models
    in the order their first row came. Use it inside the transaction: an exception in the block discards them.
    Rows are written without a savepoint, so an error while writing them (a duplicate key) aborts the transaction."""
    if _pending.get() is not None:
        yield  # nested: the outer block writes them
        return
    token = _pending.set({})
    try:
        yield
        pending = _pending.get() or {}
    finally:
        _pending.reset(token)
    for model, rows in pending.items():
        model._default_manager.bulk_create(rows)


def active() -> bool:
    """Whether a :func:`deferred_inserts` block is open: the caller's attempt is rolled back whole on any error, so
    an insert that may fail needs no savepoint of its own."""
    return _pending.get() is not None


def insert(rows: Sequence[models.Model]) -> None:
    """Insert ``rows`` (all of one model) now, or at the end of the current :func:`deferred_inserts` block.

    Their primary keys must be set by the caller (UUIDs made up front), so that they can be referred to at once."""
    if not rows:
        return
    pending = _pending.get()
    if pending is None:
        type(rows[0])._default_manager.bulk_create(rows)
    else:
        pending.setdefault(type(rows[0]), []).extend(rows)
