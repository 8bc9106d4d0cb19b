"""paas/dotenv.py, through which every step of `make run` reads .env: the environment wins over the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from paas.dotenv import DotenvError, environment_with, parse

ROOT = Path(__file__).resolve().parents[2]


def test_it_reads_names_values_quotes_and_comments() -> None:
    text = """
# a comment
DEBUG=false
export SITE_URL = http://127.0.0.1:9000
DEFAULT_FROM_EMAIL=Switchboard <no-reply@example.com>
QUOTED="a value # with a hash"
SINGLE='x=y'
TRAILING=on # a comment after a value
"""
    assert parse(text) == {
        "DEBUG": "false",
        "SITE_URL": "http://127.0.0.1:9000",
        "DEFAULT_FROM_EMAIL": "Switchboard <no-reply@example.com>",
        "QUOTED": "a value # with a hash",
        "SINGLE": "x=y",
        "TRAILING": "on",
    }


def test_an_empty_value_leaves_the_variable_unset_as_in_env_example() -> None:
    assert parse("SECRET_KEY=\nEMPTY=''\n") == {}


@pytest.mark.parametrize("line", ["just words", "=value", "1ABC=x", "BAD-NAME=x"])
def test_a_line_that_is_not_an_assignment_is_refused_with_its_number(line: str) -> None:
    with pytest.raises(DotenvError, match="line 2: expected NAME=value"):
        parse(f"OK=1\n{line}\n", ".env")


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("DATABASE_URL=sqlite:///from-file\nDEBUG=false\n")

    env = environment_with(str(dotenv), {"DEBUG": "true", "PATH": "/bin"})

    assert env == {"DATABASE_URL": "sqlite:///from-file", "DEBUG": "true", "PATH": "/bin"}


def test_a_missing_file_adds_nothing(tmp_path: Path) -> None:
    assert environment_with(str(tmp_path / "absent"), {"PATH": "/bin"}) == {"PATH": "/bin"}


def test_run_by_path_it_runs_the_command_with_the_file_added(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("FROM_FILE=file\nBOTH=file\n")
    probe = "import os; print(os.environ['FROM_FILE'], os.environ['BOTH'], 'DJANGO_SETTINGS_MODULE' in os.environ)"
    env = {"PATH": "/usr/bin:/bin", "BOTH": "environment"}

    done = subprocess.run(
        [sys.executable, "paas/dotenv.py", str(dotenv), sys.executable, "-c", probe],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["file", "environment", "False"]


def test_a_malformed_file_stops_the_command_naming_the_line(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("oops\n")

    done = subprocess.run(
        [sys.executable, "paas/dotenv.py", str(dotenv), "true"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )

    assert done.returncode == 1
    assert "line 1: expected NAME=value" in done.stderr
