"""The on-disk event spool: events survive the process (close and reopen) until the gateway confirms them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from worker_node.spool import Spool


def an_event(n: int) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "session_id": "s", "epoch": 1, "type": "session.qr", "data": {"n": n}}


def test_events_survive_closing_and_reopening_the_spool(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    events = [an_event(n) for n in range(3)]
    spool = Spool(path)
    for item in events:
        spool.append(item)
    spool.close()

    reopened = Spool(path)

    assert reopened.batch(10) == events
    assert len(reopened) == 3
    reopened.close()


def test_confirmed_events_are_removed_for_good(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    events = [an_event(n) for n in range(4)]
    spool = Spool(path)
    for item in events:
        spool.append(item)

    spool.confirm([events[0]["id"], events[2]["id"]])
    spool.close()
    reopened = Spool(path)

    assert reopened.batch(10) == [events[1], events[3]]
    reopened.close()


def test_a_batch_is_in_order_and_bounded(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    events = [an_event(n) for n in range(5)]
    for item in events:
        spool.append(item)

    assert spool.batch(2) == events[:2]
    spool.confirm([e["id"] for e in events[:2]])
    assert spool.batch(2) == events[2:4]
    spool.close()


def test_an_event_appended_twice_is_kept_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    item = an_event(1)

    spool.append(item)
    spool.append(item)

    assert spool.batch(10) == [item]
    assert len(spool) == 1
    spool.close()


def test_confirming_unknown_or_no_ids_changes_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    item = an_event(1)
    spool.append(item)

    spool.confirm([])
    spool.confirm([str(uuid.uuid4())])

    assert spool.batch(10) == [item]
    spool.close()


def test_the_spool_creates_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "spool.sqlite3"

    spool = Spool(path)
    spool.append(an_event(1))
    spool.close()

    assert path.exists()
    assert len(Spool(path)) == 1
