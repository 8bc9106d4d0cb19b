"""Where a session's objects live in storage: the worker writes them, the gateway reads or deletes them."""

from __future__ import annotations


def snapshot_path(session_id: object) -> str:
    """A session's encrypted auth snapshot: written by its worker, deleted by the gateway on logout and delete."""
    return f"snapshots/{session_id}.bin"


def inbound_prefix(session_id: object) -> str:
    """Where a worker keeps the media a session received; the gateway accepts received media only from here."""
    return f"inbound/{session_id}/"
