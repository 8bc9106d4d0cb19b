"""Serializer fields of the API's own."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers
from rest_framework.utils import html

from paas.api.parsers import check_tree, too_deep


class _NotJSON:
    def __init__(self, reason: str) -> None:
        self.reason = reason


class JSONObjectField(serializers.DictField):
    """A JSON object, which a form or multipart body gives as JSON text in the field of its name
    (``metadata={"crm_id": "A-17"}``). DRF's DictField looks only for ``metadata.crm_id=A-17`` there (still read):
    a form's ``metadata`` was dropped without a word, valid or not. A JSON body is read as by DictField."""

    default_error_messages = {"invalid_json": "Not valid JSON: {reason}."}

    def get_value(self, dictionary: Any) -> Any:
        if not (html.is_html_input(dictionary) and self.field_name in dictionary):
            return super().get_value(dictionary)
        text = dictionary.get(self.field_name)
        if not isinstance(text, str):  # a file in a multipart body
            return _NotJSON("a file, not text")
        if not text.strip():
            return {}  # as DictField reads a field given empty: cleared
        try:
            value = json.loads(text)
        except RecursionError:
            raise too_deep() from None
        except ValueError as error:
            return _NotJSON(str(error))
        # The form's text was checked by the parser, but JSON escapes ("\u0000", 1e400) are only now read.
        return check_tree({self.field_name: value})[self.field_name]

    def to_internal_value(self, data: Any) -> dict[Any, Any]:
        if isinstance(data, _NotJSON):
            self.fail("invalid_json", reason=data.reason)
        return super().to_internal_value(data)
