"""Database: SQLite under var/ by default, PostgreSQL (psycopg 3) when DATABASE_URL is set."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import dj_database_url

from paas.env import bad_value, env_int, env_str
from paas.settings.base import VAR_DIR

_SCHEMES = {"postgres", "postgresql", "pgsql", "sqlite"}


def parse_database_url(url: str, *, connect_timeout: int) -> dict[str, Any]:
    """Turn DATABASE_URL into a Django DATABASES entry, or raise naming the variable."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise bad_value("DATABASE_URL", url, "postgresql://user:password@host:5432/name or sqlite:///path")
    if parts.scheme != "sqlite" and not (parts.hostname or parts.path.strip("/")):
        raise bad_value("DATABASE_URL", url, "a host and a database name, as in postgresql://user@host:5432/name")
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url))
    except ValueError as error:
        raise bad_value("DATABASE_URL", url, str(error)) from None
    if config["ENGINE"] == "django.db.backends.postgresql":
        # A database that is down must not hang requests or /readyz for long.
        config.setdefault("OPTIONS", {})["connect_timeout"] = connect_timeout
    else:
        config.setdefault("OPTIONS", {})["timeout"] = 20
    return config


DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'switchboard.sqlite3'}")
DATABASES = {
    "default": parse_database_url(DATABASE_URL, connect_timeout=env_int("DATABASE_CONNECT_TIMEOUT", 3, minimum=1)),
}
