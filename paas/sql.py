"""Statements the ORM cannot say, and the few hot ones it says more slowly, written out with names from the models.

Each statement written out with these helpers is one that ``python -m bench.layers`` measures beside its ORM form
(bench/README.md has the figures and the decisions); everything else uses the ORM. Only quoted names from the
models' ``_meta`` and placeholders are formatted into the SQL; every value travels as a parameter. Rows come back
through ``Model.objects.raw``, so the values are converted as the ORM converts them. What this leans on of Django
beyond its public API is listed in paas/INTERNALS.md (4 and 5) and checked by paas/tests/test_internals.py.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def quote(name: str) -> str:
    return str(connection.ops.quote_name(name))


def table(model: type[models.Model]) -> str:
    return quote(model._meta.db_table)


def field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """The concrete field ``name`` of ``model``."""
    found = model._meta.get_field(name)
    assert isinstance(found, models.Field)
    return found


def column(model: type[models.Model], name: str) -> str:
    """The quoted column of the field ``name`` (``session`` gives ``"session_id"``)."""
    return quote(field(model, name).column)


def pk_value(model: type[models.Model], value: Any) -> Any:
    """``value`` as the database stores the model's primary key (a UUID string is a hex string on SQLite)."""
    return model._meta.pk.get_db_prep_value(value, connection)


def first(model: type[M], where: str, params: list[Any]) -> M | None:
    """The first row of ``model`` matching ``where`` (SQL with placeholders), or None."""
    sql = f"SELECT * FROM {table(model)} WHERE {where} LIMIT 1"  # noqa: S608
    return next(iter(model._default_manager.raw(sql, params)), None)


def _concrete_fields(model: type[models.Model]) -> tuple[models.Field[Any, Any], ...]:
    return tuple(field for field in model._meta.concrete_fields if isinstance(field, models.Field))


@functools.cache
def columns(model: type[models.Model]) -> str:
    """Every concrete column of ``model``, quoted and unqualified: a ``RETURNING`` list that PostgreSQL and SQLite
    both take after ``UPDATE … FROM`` (SQLite refuses ``table.*`` there, and PostgreSQL's ``*`` would add the
    ``FROM`` list's columns)."""
    return ", ".join(quote(field.column) for field in _concrete_fields(model))


def key_share(queryset: models.QuerySet[M]) -> list[M]:
    """The rows of ``queryset`` (one table, no joins), locked ``FOR KEY SHARE`` until the transaction ends: nobody
    may delete them meanwhile, while other key-share and no-key-update lockers go on (it is the lock PostgreSQL's own
    foreign-key checks take). Django's select_for_update has no such mode; SQLite has no row locks at all."""
    if connection.vendor != "postgresql":
        return list(queryset)
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # e.g. pk__in=[] (a replay with nothing to replay): no rows, and no SQL to lock them
        return []
    return list(queryset.model._default_manager.raw(f"{sql} FOR KEY SHARE", params))


def values_list(rows: int, width: int) -> str:
    """Placeholders for ``rows`` rows of ``width`` values: ``(%s, %s), (%s, %s)``. Both databases name the columns
    of such a list column1, column2, …"""
    row = f"({', '.join(['%s'] * width)})"
    return ", ".join([row] * rows)


def insert(*instances: models.Model) -> None:
    """Insert ``instances`` (of one model, primary keys set) as ``save(force_insert=True)`` does for each: every
    concrete field, ``auto_now_add`` times set on them, the values prepared by their fields. One statement, or as
    few as the database's limit on parameters allows. No signals are sent; nothing here listens to them (a test
    keeps it so for the models inserted this way)."""
    if not instances:
        return
    model = type(instances[0])
    fields = _concrete_fields(model)
    per_statement = max(1, (connection.features.max_query_params or 65_535) // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(instances), per_statement):
            chunk = instances[start : start + per_statement]
            sql = f"INSERT INTO {table(model)} ({columns(model)}) VALUES {values_list(len(chunk), len(fields))}"  # noqa: S608
            values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for instance in chunk
                      for field in fields]  # fmt: skip
            cursor.execute(sql, values)
    for instance in instances:
        instance._state.adding = False
        instance._state.db = connection.alias
