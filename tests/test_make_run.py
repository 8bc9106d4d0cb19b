"""`make run` reads .env in every step (migrate, collectstatic, the demo accounts, honcho's processes), and the
environment wins over the file. The Procfile here is a probe that prints what its process sees and exits, so honcho
stops at once; the real Procfile is tested in test_gateway_process.py."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.fixtures.processes import ROOT, child_env
from tests.fixtures.services import free_port

pytestmark = pytest.mark.e2e
PROBE = ("DATABASE_URL", "DEBUG", "SWITCHBOARD_VAR_DIR", "FROM_FILE", "FROM_BOTH", "SITE_URL", "GATEWAY_URL")


def make_run(tmp_path: Path, port: int, dotenv: str, **environment: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / ".env").write_text(dotenv)
    printed = ", ".join(f"os.environ.get('{name}')" for name in PROBE)
    (tmp_path / "Procfile").write_text(f"probe: python -c \"import os; print('probe:', {printed})\"\n")
    env = child_env(**environment)
    env.pop("SECRET_KEY")  # from .env, below
    command = ["make", "--no-print-directory", "run", f"VENV={sys.prefix}", f"ENV_FILE={tmp_path / '.env'}",
               f"PROCFILE={tmp_path / 'Procfile'}", f"PORT={port}"]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_every_step_of_make_run_reads_dotenv_and_the_environment_wins(tmp_path: Path) -> None:
    database = tmp_path / "from-dotenv.sqlite3"
    var = tmp_path / "var"
    dotenv = (
        f"DATABASE_URL=sqlite:///{database}\nSWITCHBOARD_VAR_DIR={var}\nDEBUG=false\n"
        "SECRET_KEY=a-dotenv-secret-key-long-enough-for-the-start-up-check\n"
        "FROM_FILE=file\nFROM_BOTH=file\n"
    )

    port = free_port()

    done = make_run(tmp_path, port, dotenv, FROM_BOTH="environment")

    assert done.returncode == 0, done.stdout + done.stderr
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 0
        operators = db.execute("SELECT email FROM accounts_user WHERE is_staff").fetchall()
    assert operators == [("operator@switchboard.local",)]
    assert (var / "staticfiles" / "staticfiles.json").exists(), "collectstatic did not see DEBUG=false"
    assert (var / "demo-enrollment-token").read_text().startswith("sbe_")
    probe = next(line for line in done.stdout.splitlines() if "probe:" in line).split("probe:", 1)[1].split()
    assert probe == [f"sqlite:///{database}", "false", str(var), "file", "environment",
                     f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}"]  # fmt: skip
