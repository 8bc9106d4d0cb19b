"""The API's request parsers: DRF's, refusing bodies that are too large, too deep, or that could never be stored.

PostgreSQL stores no NUL character in text or jsonb, and a lone surrogate (JSON allows ``"\\ud800"``) cannot be
encoded at all. DRF's CharField refuses both, but nothing looked inside JSON objects (metadata, event data) or at
their keys, and such a body reached the database as a 500; so did a number too large for a float (``1e400`` reads
as infinity, which jsonb cannot hold) and JSON nested deeper than Python's recursion limit.
Here every parsed body is walked once, without recursion, before a view sees it. A refused body changes nothing.

The size limit is the view's: ``large_bodies = True`` (sends with base64 media, the worker API) allows
``DATA_UPLOAD_MAX_MEMORY_SIZE``, which Django enforces by itself; every other view ``API_MAX_BODY_BYTES``.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ValidationError

from paas.api.errors import APIError, body_limit, too_large

# Deeper JSON is refused (metadata, event data and filters are a few levels deep): far below Python's recursion
# limit, which the parser, the serializers and the database's own JSON parser would otherwise reach.
MAX_JSON_DEPTH = 64
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_reason(text: str) -> str | None:
    """Why ``text`` cannot be stored (DRF's own messages for CharFields), or None."""
    if "\x00" in text:
        return "Null characters are not allowed."
    if not text.isascii():
        found = _UNSTORABLE.search(text)
        if found:
            return f"Surrogate characters are not allowed: U+{ord(found.group()):X}."
    return None


def replace_unstorable(text: str) -> str:
    """``text`` with NUL characters and lone surrogates replaced by U+FFFD."""
    if "\x00" not in text and text.isascii():
        return text
    return _UNSTORABLE.sub("\ufffd", text)


def too_deep() -> APIError:
    return APIError("json_too_deep", f"JSON may nest at most {MAX_JSON_DEPTH} levels.")


def _content_length(parser_context: Mapping[str, Any] | None) -> int:
    request = (parser_context or {}).get("request")
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
    except ValueError:
        return 0


def check_tree(data: Any, *, replace: bool = False) -> Any:
    """``data`` (parsed JSON, or a form's QueryDict) if every string in it can be stored and it nests at most
    MAX_JSON_DEPTH levels; otherwise a validation error naming the top-level field. With ``replace``, unstorable
    characters become U+FFFD instead (in place) and only the depth is refused."""
    if isinstance(data, QueryDict):
        return _check_form(data, replace=replace)
    errors: dict[str, list[str]] = {}
    if isinstance(data, str):
        return _raise_if(errors, _checked(data, "non_field_errors", errors, replace))
    # (container, its depth, the top-level field it is in: None for the body itself)
    stack: list[tuple[Any, int, str | None]] = [(data, 1, None)] if isinstance(data, dict | list) else []
    while stack:
        value, depth, field = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise too_deep()
        if isinstance(value, dict):
            if replace and any(replace_unstorable(key) != key for key in value):
                items = list(value.items())
                value.clear()
                value.update((replace_unstorable(key), item) for key, item in items)
            children: Any = list(value.items())
        else:
            children = enumerate(value)
        for key, item in children:
            name = field if field is not None else (key if isinstance(key, str) else "non_field_errors")
            if isinstance(key, str) and not replace:
                _checked(key, name, errors, replace)
            if isinstance(item, str):
                value[key] = _checked(item, name, errors, replace)
            elif isinstance(item, dict | list):
                stack.append((item, depth + 1, name))
            elif isinstance(item, float) and not math.isfinite(item):
                _add(errors, name, "Numbers must be finite (JSON has no infinity: 1e400 is one).")
    return _raise_if(errors, data)


def _checked(text: str, field: str, errors: dict[str, list[str]], replace: bool) -> str:
    if replace:
        return replace_unstorable(text)
    reason = unstorable_reason(text)
    if reason is not None:
        _add(errors, field, reason)
    return text


def _add(errors: dict[str, list[str]], field: str, reason: str) -> None:
    if reason not in errors.setdefault(field, []):
        errors[field].append(reason)


def _raise_if(errors: dict[str, list[str]], data: Any) -> Any:
    if errors:
        raise ValidationError(errors)
    return data


def _check_form(data: QueryDict, *, replace: bool) -> QueryDict:
    errors: dict[str, list[str]] = {}
    for key, values in data.lists():
        for text in [key, *values]:
            if isinstance(text, str):
                _checked(text, replace_unstorable(key), errors, replace=False)
    if not errors or not replace:
        return _raise_if(errors, data)
    cleaned = QueryDict(mutable=True)
    for key, values in data.lists():
        cleaned.setlist(replace_unstorable(key), [replace_unstorable(v) if isinstance(v, str) else v for v in values])
    cleaned._mutable = False
    return cleaned


def _read(stream: Any, parser_context: Mapping[str, Any] | None) -> io.BytesIO:
    limit = body_limit((parser_context or {}).get("view"))
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise too_large(limit)
    return io.BytesIO(raw)


class JSONParser(parsers.JSONParser):
    replacing = False  # replace unstorable characters instead of refusing them

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(_read(stream, parser_context), media_type, parser_context)
        except RecursionError:
            raise too_deep() from None
        return check_tree(data, replace=self.replacing)


class FormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        return check_tree(super().parse(_read(stream, parser_context), media_type, parser_context))


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = body_limit((parser_context or {}).get("view"))
        if _content_length(parser_context) > limit:
            raise too_large(limit)
        parsed = super().parse(stream, media_type, parser_context)
        parsed.data = check_tree(parsed.data)
        return parsed


class ReplacingJSONParser(JSONParser):
    """For what the worker API relays from WhatsApp (a contact's message may hold a NUL): kept, with U+FFFD."""

    replacing = True
