"""Model fields of our own."""

from __future__ import annotations

from typing import Any

from django.db import models


class ValuesInsertedJSONField(models.JSONField):
    """A JSONField whose model's rows, inserted several at once, go in as ``VALUES`` rather than ``UNNEST``.

    Since Django 5.2 a multi-row insert on PostgreSQL sends one array per column and unnests them. psycopg writes
    an array of JSON documents as text in Python, escaping every quote with a regular expression: a quarter of the
    workers' gateway's time during bench.messaging went there. Three session events went in in 0.8 ms as VALUES
    against 1.3 ms unnested; at 200 rows the two cost the same. Django keeps VALUES for a model that has a field
    with ``get_placeholder``, whose placeholder is then this plain one.

    The schema is that of a JSONField, and migrations see one."""

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"

    def deconstruct(self) -> Any:
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs
