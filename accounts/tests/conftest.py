"""Fixtures shared by the accounts tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.services import clear_cache


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    """allauth counts logins and TOTP codes in the cache (Redis), which outlives each test's database rollback."""
    clear_cache()
    yield
    clear_cache()
