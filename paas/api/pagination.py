"""Cursor pagination for every list endpoint: stable under inserts, opaque cursors, a bounded page size."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class CreatedCursorPagination(CursorPagination):
    ordering = ("-created_at", "-pk")
    page_size_query_param = "page_size"
    max_page_size = 200
