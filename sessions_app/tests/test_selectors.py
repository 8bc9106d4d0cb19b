"""The session the API reads for a request: only the calling workspace's, whole, as the ORM would load it."""

from __future__ import annotations

import uuid

import pytest

from sessions_app.models import WhatsAppSession
from sessions_app.selectors import workspace_session
from sessions_app.tests.message_helpers import connected_session

pytestmark = pytest.mark.django_db


def test_a_workspace_reads_its_own_session_with_every_field_as_the_orm_loads_it() -> None:
    session = connected_session(metadata={"crm": {"id": 7}}, send_rate_per_minute=30)

    found = workspace_session(workspace=session.workspace, session_id=str(session.pk))

    assert found is not None
    loaded = WhatsAppSession.objects.get(pk=session.pk)
    fields = [field.attname for field in WhatsAppSession._meta.concrete_fields]
    assert {name: getattr(found, name) for name in fields} == {name: getattr(loaded, name) for name in fields}
    assert found.get_deferred_fields() == set()


def test_another_workspace_unknown_ids_and_no_workspace_read_nothing() -> None:
    session = connected_session()
    outsider = connected_session().workspace

    assert workspace_session(workspace=outsider, session_id=session.pk) is None
    assert workspace_session(workspace=session.workspace, session_id=uuid.uuid4()) is None
    assert workspace_session(workspace=None, session_id=session.pk) is None
