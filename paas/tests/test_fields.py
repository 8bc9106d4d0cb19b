"""ValuesInsertedJSONField: rows inserted together go in as VALUES, and their documents come back as they went in."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_app.models import SessionEvent
from sessions_app.tests.message_helpers import connected_session

pytestmark = pytest.mark.django_db
AWKWARD = {"text": 'a "quoted" \\ back\\slash, {braces}, comma, ünïcode 👍', "nested": {"list": [1, None, "x"]}}


def test_several_events_are_inserted_as_values_in_one_statement_and_read_back_intact() -> None:
    session = connected_session()
    rows = [
        SessionEvent(id=uuid.uuid4(), session=session, workspace_id=session.workspace_id, epoch=1,
                     type="message.status", data={**AWKWARD, "n": n}, occurred_at=timezone.now())
        for n in range(3)
    ]  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        SessionEvent.objects.bulk_create(rows)

    (insert,) = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("INSERT")]
    assert "VALUES" in insert
    assert "UNNEST" not in insert
    stored = SessionEvent.objects.filter(session=session).order_by("data__n")
    assert [event.data for event in stored] == [{**AWKWARD, "n": n} for n in range(3)]


def test_migrations_see_a_plain_json_field() -> None:
    field = SessionEvent._meta.get_field("data")
    assert field.deconstruct()[1] == "django.db.models.JSONField"
