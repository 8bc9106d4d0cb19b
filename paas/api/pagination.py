"""Cursor pagination for every list endpoint: stable under inserts, opaque cursors, a bounded page size.

DRF's CursorPagination ignores a page_size it cannot use (``-1``, ``abc``) and a cursor that is not base64 (``%%%``),
answering the first page as if nothing had been asked, and passes a crafted cursor's position (base64 of
``p=garbage``) to the database: a 500. Here both are checked and refused with their own codes.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from datetime import UTC, datetime
from typing import Any
from urllib import parse

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Field, Model
from django.utils import timezone
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from paas.api.errors import APIError

_DIGITS = re.compile(r"[0-9]{1,9}")


def _invalid_cursor() -> APIError:
    message = "This cursor is not one we gave out: follow the next and previous links as they are."
    return APIError("invalid_cursor", message, details={"cursor": [message]})


class CreatedCursorPagination(CursorPagination):
    ordering = ("-created_at", "-pk")
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        self._model: type[Model] = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param or "page_size")
        if raw is None:
            return int(self.page_size or 50)
        if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= self.max_page_size:
            message = f"page_size must be a whole number from 1 to {self.max_page_size}."
            raise APIError("invalid_page_size", message, details={"page_size": [message]})
        return int(raw)

    def decode_cursor(self, request: Request) -> Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            tokens = parse.parse_qs(b64decode(encoded, validate=True).decode("ascii"), strict_parsing=True)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise _invalid_cursor() from None
        if not set(tokens) <= {"o", "r", "p"} or any(len(values) != 1 for values in tokens.values()):
            raise _invalid_cursor()
        offset, reverse = tokens.get("o", ["0"])[0], tokens.get("r", ["0"])[0]
        if not _DIGITS.fullmatch(offset) or reverse not in ("0", "1"):
            raise _invalid_cursor()
        position: Any = tokens.get("p", [None])[0]  # the text DRF wrote (the stubs say int)
        if position is not None:
            position = self._checked_position(position)
        return Cursor(offset=min(int(offset), self.offset_cutoff), reverse=reverse == "1", position=position)

    def _checked_position(self, position: str) -> str:
        """The position is a value of the first ordering field, as str() wrote it: it must read back as one. A time
        goes to the database in UTC (PostgreSQL takes offsets up to 15:59 only; Python up to 23:59)."""
        try:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        except FieldDoesNotExist:
            return position
        if not isinstance(field, Field):
            return position
        try:
            value = field.to_python(position)
            if isinstance(value, datetime):
                if timezone.is_naive(value):
                    raise ValueError("a naive time")
                return str(value.astimezone(UTC))
        except (ValidationError, ValueError, TypeError, OverflowError):
            raise _invalid_cursor() from None
        return position
