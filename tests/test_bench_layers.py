"""bench.layers measures what the code runs: every piece of it works on this code, so that a moved or changed
module fails here rather than in the next `make bench`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from bench.layer_pieces import World, _Loop, all_pieces, build_world
from bench.layers import GROUPS, measure, report

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the handlers' pieces answer requests on threads of their own
    pytest.mark.skipif(not settings.REDIS_URL, reason="the cache and fanout pieces need Redis"),
]


@pytest.fixture
def loop() -> Iterator[_Loop]:
    running = _Loop()
    yield running
    running.close()


def test_every_piece_runs_and_reports_each_variant_beside_the_first(loop: _Loop) -> None:
    world: World = build_world(history=10)
    pieces = list(all_pieces(world, loop, redis_url=settings.REDIS_URL, prefix=settings.REDIS_KEY_PREFIX,
                             groups=set(GROUPS)))  # fmt: skip

    results = [measure(piece, rounds=1, scale=0.01) for piece in pieces]

    assert {result["group"] for result in results} == set(GROUPS)
    for result in results:
        first, *others = result["variants"]
        assert first["wall_ratio"] == first["cpu_ratio"] == 1
        assert all(variant["wall_us"] > 0 for variant in others)
    text = report({"date": "now", "command": "test", "pieces": results,
                   "host": {"cores": 2, "cpu": "", "python": "3", "platform": "", "load_average_at_start": [],
                            "commit": "", "uncommitted": []}})  # fmt: skip
    assert all(f"[{group}]" in text for group in GROUPS)
