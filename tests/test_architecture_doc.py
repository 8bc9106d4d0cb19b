"""docs/architecture.md's layout is the tree: every module it names exists, and it names every services module."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layout() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    return block.splitlines()


def _named_modules() -> list[tuple[str, str]]:
    """(top-level folder, module file name) for every ``name.py`` the layout mentions, by the folder it is under."""
    named, top = [], ""
    for line in _layout():
        if re.match(r"^[a-z_]+/", line):
            top = line.split("/", 1)[0]
        named += [(top, name) for name in re.findall(r"\b([a-z_]+(?:/[a-z_]+)*\.py)\b", line)]
    return named


def test_every_module_the_layout_names_exists() -> None:
    named = _named_modules()
    assert len(named) > 40, "the pattern found too few modules: the test would pass vacuously"
    missing = [f"{top}/…/{name}" for top, name in named if not any((ROOT / top).rglob(name.rsplit("/", 1)[-1]))]
    assert missing == []


def test_the_layout_names_every_services_module() -> None:
    named = {name.rsplit("/", 1)[-1] for _, name in _named_modules()}
    layout = "\n".join(_layout())
    modules = [
        path for app in ("sessions_app", "workers_app", "accounts") for path in (ROOT / app / "services").rglob("*.py")
    ]
    assert modules, "no services modules found"
    unnamed = [
        str(path.relative_to(ROOT)) for path in modules
        if path.name != "__init__.py" and path.name not in named and not re.search(rf"\b{path.stem}\b", layout)
    ]  # fmt: skip
    assert unnamed == []
