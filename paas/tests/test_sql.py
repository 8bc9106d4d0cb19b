"""paas.sql: statements written out behave as the ORM's."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save, pre_save

from paas import sql
from sessions_app.models import Message
from sessions_app.tests.message_helpers import MessageFactory, connected_session

pytestmark = pytest.mark.django_db


def _row(message: Message) -> dict[str, object]:
    return {field.attname: getattr(message, field.attname) for field in Message._meta.concrete_fields}


def test_insert_stores_the_row_save_would_and_sets_auto_now_add_times() -> None:
    session = connected_session()
    template = MessageFactory.build(session=session, content={"text": 'a "quoted" ünïcode 👍'}, reactions={"x": "y"})
    written = Message(**{**_row(template), "id": uuid.uuid4(), "created_at": None})
    saved = Message(**{**_row(template), "id": uuid.uuid4(), "created_at": None})

    sql.insert(written)
    saved.save(force_insert=True)

    assert written.created_at is not None
    assert written._state.adding is False
    stored_written, stored_saved = Message.objects.get(pk=written.pk), Message.objects.get(pk=saved.pk)
    differing = {name for name, value in _row(stored_written).items() if _row(stored_saved)[name] != value}
    assert differing == {"id", "created_at"}
    assert _row(stored_written) == {**_row(written)}


def test_insert_of_a_stored_id_raises_integrity_error() -> None:
    message = MessageFactory.create(session=connected_session())
    with pytest.raises(IntegrityError), transaction.atomic():
        sql.insert(Message(**_row(message)))


def test_nothing_listens_to_the_save_signals_that_insert_does_not_send() -> None:
    assert not pre_save.has_listeners(Message)
    assert not post_save.has_listeners(Message)


def test_insert_of_several_rows_is_one_statement_storing_each() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    session = connected_session()
    rows = [Message(**{**_row(MessageFactory.build(session=session, content={"n": n})), "id": uuid.uuid4(),
                       "created_at": None}) for n in range(3)]  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        sql.insert(*rows)

    assert len(queries.captured_queries) == 1
    assert sorted(Message.objects.values_list("content__n", flat=True)) == [0, 1, 2]
    assert all(row.created_at is not None and row._state.adding is False for row in rows)


def test_insert_splits_rows_over_statements_within_the_databases_limit_on_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    session = connected_session()
    width = len(Message._meta.concrete_fields)
    monkeypatch.setattr(connection.features, "max_query_params", 2 * width + 1)  # two rows per statement
    rows = [Message(**{**_row(MessageFactory.build(session=session, content={"n": n})), "id": uuid.uuid4()})
            for n in range(5)]  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        sql.insert(*rows)

    assert [q["sql"].count("), (") + 1 for q in queries.captured_queries] == [2, 2, 1]
    assert sorted(Message.objects.values_list("content__n", flat=True)) == [0, 1, 2, 3, 4]


def test_key_share_of_a_query_that_can_match_nothing_is_no_rows() -> None:
    """``pk__in=[]`` has no SQL at all (Django raises EmptyResultSet): a replay of no deliveries was a 500."""
    with transaction.atomic():
        assert sql.key_share(Message.objects.filter(pk__in=[])) == []
