"""Run a command with a .env file's variables added to its environment: ``python paas/dotenv.py FILE COMMAND [ARG…]``.

`make run` runs its steps through this, so migrate, collectstatic, the demo accounts and honcho's processes all see
one configuration (before, only honcho read .env: a DATABASE_URL there migrated SQLite and served an unmigrated
PostgreSQL). A variable already in the environment wins over the file, so `DEBUG=false make run` means what it says
whatever .env holds. honcho's own .env reading does the reverse (the file wins), which is why `make run` tells honcho
to read none.

The file: ``NAME=value`` lines (``export NAME=value`` too); blank lines and lines starting with ``#`` are skipped. A
value is the rest of the line, trimmed; one in matching single or double quotes is taken as it is inside them, and an
unquoted one ends before `` #``. An empty value leaves the variable unset, as in .env.example. A missing file adds
nothing.

Run by path, not with ``-m``: importing the ``paas`` package starts the Celery app, which sets variables of its own.
"""

from __future__ import annotations

import os
import sys


class DotenvError(Exception):
    pass


def parse(text: str, source: str = ".env") -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, equals, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name.replace("_", "a").isalnum() or name[0].isdigit() or not name.isascii():
            raise DotenvError(f"{source}, line {number}: expected NAME=value, found {raw.strip()!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        if value:
            values[name] = value
    return values


def environment_with(path: str, environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with the file's variables that it does not set already."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        return dict(environ)
    return {**parse(text, path), **environ}


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit("usage: python paas/dotenv.py FILE COMMAND [ARG…]")
    try:
        env = environment_with(argv[0], dict(os.environ))
    except (DotenvError, OSError, UnicodeDecodeError) as error:
        sys.exit(f"dotenv: {error}")
    os.execvpe(argv[1], argv[1:], env)  # noqa: S606  (running the command it is given is what it is for)


if __name__ == "__main__":
    main(sys.argv[1:])
