"""When the Lander counts the worker as catching up, and when a batch landed then also refreshes
the derived tables (at most every derive_every seconds, and spaced by their own cost)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.store import Store
from flowcore.batch import Envelope
from streams.lander import DeriveSchedule, Lander
from tests.helpers.events import transition


async def no_dead_letters(_reject):
    return None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "s.duckdb") as opened:
        yield opened


def test_catching_up_is_a_full_batch_or_another_full_batch_waiting(store):
    def catching_up(behind, events: int, batch_max: int = 100) -> bool:
        lander = Lander(store, {}, "dl", no_dead_letters, batch_max=batch_max, derive_every=5.0, behind=behind)
        try:
            return lander.catching_up([object()] * events)
        finally:
            lander.close()

    assert catching_up(lambda events: 0, 100)  # full
    assert catching_up(lambda events: 100, 5)  # 100 more on the broker
    assert not catching_up(lambda events: 99, 5)  # caught up

    def unknown(events):
        raise RuntimeError("no fetch yet")

    assert not catching_up(unknown, 5)  # unknown lag: derive every batch
    assert not catching_up(lambda events: 10**6, 5, batch_max=0)


def test_derives_are_spaced_by_their_own_duration_while_catching_up():
    clock = [1000.0]
    schedule = DeriveSchedule(every=1.0, clock=lambda: clock[0])
    schedule.derived(took=2.0)  # at 1000 s, and it took 2 s: the next one 4 x 2 = 8 s later
    due = []
    for moment in (1001.5, 1005.0, 1007.9, 1008.1):
        clock[0] = moment
        due.append(schedule.due(catching_up=True))
    # derive_every alone (1 s) would derive at 1001.5; the spacing holds it until 1008.
    assert due == [False, False, False, True]
    assert schedule.due(catching_up=False)  # caught up: every batch derives


def test_a_batch_landed_while_catching_up_leaves_the_derive_to_the_schedule(store):
    lander = Lander(store, {"t": "transition"}, "dl", no_dead_letters, batch_max=100, derive_every=3600.0)

    def batch(n: int) -> list[Envelope]:
        return [Envelope("t", 0, n, "transition", json.dumps(transition(n)).encode())]

    try:
        asyncio.run(lander.land_envelopes(batch(0), catching_up=True))
        assert store.backlog_pending  # within the hour since the lander started: the derive waits
        asyncio.run(lander.land_envelopes(batch(1), catching_up=False))
        assert not store.backlog_pending  # caught up: derived with this batch, backlog included
    finally:
        lander.close()
