from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from paas.env import env_bool, env_choice, env_int, env_list
from paas.settings.database import parse_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_env_bool_reads_the_usual_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw, expected in [("true", True), ("ON", True), ("1", True), ("no", False), ("0", False), ("", False)]:
        monkeypatch.setenv("SOME_FLAG", raw)
        assert env_bool("SOME_FLAG", not expected) is expected
    monkeypatch.delenv("SOME_FLAG")
    assert env_bool("SOME_FLAG", True) is True


def test_a_bad_value_names_the_variable_and_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"SOME_FLAG='maybe'"):
        env_bool("SOME_FLAG", False)
    monkeypatch.setenv("SOME_NUMBER", "twelve")
    with pytest.raises(ImproperlyConfigured, match=r"SOME_NUMBER='twelve'.*whole number"):
        env_int("SOME_NUMBER", 1)
    monkeypatch.setenv("SOME_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match=r"SOME_NUMBER='0'.*from 1"):
        env_int("SOME_NUMBER", 1, minimum=1)
    monkeypatch.setenv("SOME_ENGINE", "carrier-pigeon")
    with pytest.raises(ImproperlyConfigured, match=r"SOME_ENGINE='carrier-pigeon'.*sandbox, neonize"):
        env_choice("SOME_ENGINE", "sandbox", ("sandbox", "neonize"))


def test_env_list_splits_and_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_HOSTS", " a.example , b.example,, ")
    assert env_list("SOME_HOSTS", []) == ["a.example", "b.example"]


@pytest.mark.parametrize(
    "url",
    ["mysql://root@localhost/db", "not a url", "postgresql://", "http://example.com/db"],
)
def test_a_malformed_database_url_is_refused_by_name(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        parse_database_url(url, connect_timeout=3)


def test_postgres_urls_get_a_connect_timeout() -> None:
    config = parse_database_url("postgresql://app:secret@db.internal:5433/switchboard", connect_timeout=4)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "db.internal",
        5433,
        "switchboard",
        "app",
    )
    assert config["OPTIONS"]["connect_timeout"] == 4
    assert "pool" not in config["OPTIONS"]


def test_postgres_urls_get_the_pool_and_sqlite_does_not() -> None:
    pool = {"min_size": 1, "max_size": 7, "timeout": 5}
    config = parse_database_url("postgresql://app@db.internal/switchboard", connect_timeout=3, pool=pool)
    assert config["OPTIONS"]["pool"] == pool
    assert config["CONN_MAX_AGE"] == 0  # Django refuses persistent connections together with a pool
    assert "pool" not in parse_database_url("sqlite:///tmp/x.sqlite3", connect_timeout=3, pool=pool)["OPTIONS"]


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "paas.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe'"),
        ({"DEBUG": "true", "DATABASE_URL": "postgres//oops"}, "DATABASE_URL='postgres//oops'"),
        ({"DEBUG": "true", "REDIS_URL": "localhost:6379"}, "REDIS_URL='localhost:6379'"),
        ({"DEBUG": "false"}, "SECRET_KEY"),
        ({"DEBUG": "false", "SECRET_KEY": "dev-insecure-switchboard-only-for-debug"}, "SECRET_KEY"),
    ],
)
def test_start_up_stops_on_a_bad_setting_naming_the_variable(env: dict[str, str], named: str) -> None:
    result = _start(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr


def test_start_up_succeeds_in_production_with_a_real_secret() -> None:
    result = _start({"DEBUG": "false", "SECRET_KEY": "k" * 50})
    assert result.returncode == 0, result.stderr


def test_env_example_lists_every_variable_the_settings_read() -> None:
    import re

    files = [
        *(ROOT / "paas" / "settings").glob("*.py"),
        *(ROOT / "worker_node").rglob("*.py"),
    ]
    sources = "".join(path.read_text() for path in files)
    read = set(re.findall(r'(?:env_\w+|_schedule|_read)\(\s*"([A-Z_0-9]+)"', sources))
    read |= set(re.findall(r'^[A-Z_]+_ENV = "([A-Z_0-9]+)"', sources, re.MULTILINE))
    listed = set(re.findall(r"^([A-Z_0-9]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read, "the pattern found no variables: the test would pass vacuously"
    assert read - listed == set()
    assert listed - read == set()
