"""Typed readers for environment variables, shared so the gateway and the worker read variables the same way.

Every setting of Switchboard comes from the environment. These readers give each variable a default that works on a
laptop, and turn a bad value into an error that names the variable and the value, so a typo stops start-up with a
message an operator can act on instead of a traceback deep inside a library. Both processes raise Django's
``ImproperlyConfigured`` (``paas/env.py``, ``worker_node/config.py``), handed in, so this module needs no Django.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str) -> str:
    """A string never fails to read: unset or empty gives the default."""
    value = raw(name)
    return default if value is None or value == "" else value


class Env:
    """Readers that raise ``error`` (an exception class taking a message) for a bad value."""

    def __init__(self, error: Callable[[str], Exception]) -> None:
        self.error = error

    def bad_value(self, name: str, value: str, expected: str) -> Exception:
        return self.error(f"Environment variable {name}={value!r} is not valid: expected {expected}.")

    def text(self, name: str, default: str) -> str:
        return env_str(name, default)

    def flag(self, name: str, default: bool) -> bool:
        value = raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise self.bad_value(name, value, "one of true/false, yes/no, on/off, 1/0")

    def _parsed(self, name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
        value = raw(name)
        if value is None or value == "":
            return default
        try:
            return parse(value)
        except ValueError:
            raise self.bad_value(name, value, expected) from None

    def whole(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        number = self._parsed(name, default, int, "a whole number")
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            low = "-inf" if minimum is None else minimum
            high = "inf" if maximum is None else maximum
            raise self.bad_value(name, str(number), f"a whole number from {low} to {high}")
        return number

    def number(self, name: str, default: float, *, minimum: float | None = None) -> float:
        value = self._parsed(name, default, float, "a number")
        if minimum is not None and value < minimum:
            raise self.bad_value(name, str(value), f"a number of at least {minimum}")
        return value

    def items(self, name: str, default: list[str]) -> list[str]:
        """A comma-separated list; empty items are dropped."""
        value = raw(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            raise self.bad_value(name, value, "one of " + ", ".join(choices))
        return value
