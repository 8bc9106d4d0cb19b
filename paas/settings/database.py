"""Database: SQLite under var/ by default, PostgreSQL (psycopg 3) when DATABASE_URL is set."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import dj_database_url

from paas.env import bad_value, env_bool, env_int, env_str
from paas.settings.base import VAR_DIR

_SCHEMES = {"postgres", "postgresql", "pgsql", "sqlite"}
# The embedded default is shared by the gateway's threads, Celery, beat and management commands. A transaction that
# read first and then writes cannot wait for another writer in SQLite (it would deadlock), so it failed at once with
# "database is locked" whatever the busy timeout. BEGIN IMMEDIATE takes the write lock at the start, where the busy
# timeout does wait; WAL lets readers go on while one process writes.
SQLITE_OPTIONS: dict[str, Any] = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def parse_database_url(url: str, *, connect_timeout: int, pool: dict[str, int] | None = None) -> dict[str, Any]:
    """Turn DATABASE_URL into a Django DATABASES entry, or raise naming the variable. ``pool``: psycopg_pool's
    min_size, max_size and timeout for PostgreSQL, or None for a connection per request."""
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
        if pool:
            # Under ASGI every request runs in a thread of its own, so without a pool each one opened (and closed) a
            # PostgreSQL connection: about 4 ms of every API call. Django returns pooled connections at request end.
            config["OPTIONS"]["pool"] = dict(pool)
    else:
        config.setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
    return config


DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'switchboard.sqlite3'}")
DATABASE_CONNECT_TIMEOUT = env_int("DATABASE_CONNECT_TIMEOUT", 3, minimum=1)
DATABASE_POOL = {
    "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1, minimum=0),
    "max_size": env_int("DATABASE_POOL_MAX_SIZE", 32, minimum=1),
    # A request waits this long for a free (or new) connection before it fails, as connect_timeout does without a pool.
    "timeout": DATABASE_CONNECT_TIMEOUT + 2,
}
DATABASES = {
    "default": parse_database_url(
        DATABASE_URL,
        connect_timeout=DATABASE_CONNECT_TIMEOUT,
        pool=DATABASE_POOL if env_bool("DATABASE_POOL", True) else None,
    ),
}
