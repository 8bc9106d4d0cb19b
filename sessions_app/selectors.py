"""Reads of the sessions app that the API's hot paths share."""

from __future__ import annotations

from typing import Any

from accounts.models import Workspace
from paas.sql import column, first, pk_value
from sessions_app.models import WhatsAppSession


def workspace_session(*, workspace: Workspace | None, session_id: Any) -> WhatsAppSession | None:
    """The workspace's session ``session_id``; None for another workspace's, or without a workspace.

    Written out (paas.sql): every send and every message read starts here, and building the query cost more than
    running it."""
    if workspace is None:
        return None
    where = f"{column(WhatsAppSession, 'id')} = %s AND {column(WhatsAppSession, 'workspace')} = %s"
    return first(WhatsAppSession, where, [pk_value(WhatsAppSession, session_id), pk_value(Workspace, workspace.pk)])
