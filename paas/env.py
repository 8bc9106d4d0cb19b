"""Typed readers for environment variables.

Every setting of Switchboard comes from the environment. These helpers give each variable a default that works on a
laptop, and turn a bad value into an ``ImproperlyConfigured`` that names the variable and the value, so a typo stops
start-up with a message an operator can act on instead of a traceback deep inside a library.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def bad_value(name: str, value: str, expected: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Environment variable {name}={value!r} is not valid: expected {expected}.")


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise bad_value(name, value, "one of true/false, yes/no, on/off, 1/0")


def _parsed(name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        return parse(value)
    except ValueError:
        raise bad_value(name, value, expected) from None


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    number = _parsed(name, default, int, "a whole number")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        low = "-inf" if minimum is None else minimum
        high = "inf" if maximum is None else maximum
        raise bad_value(name, str(number), f"a whole number from {low} to {high}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    number = _parsed(name, default, float, "a number")
    if minimum is not None and number < minimum:
        raise bad_value(name, str(number), f"a number of at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; empty items are dropped."""
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).lower()
    if value not in choices:
        raise bad_value(name, value, "one of " + ", ".join(choices))
    return value
