"""When the Lander counts the worker as catching up (derived tables refreshed at most every
derive_every seconds, and spaced by their own cost) and when it derives with every batch."""

from __future__ import annotations

import asyncio
from pathlib import Path

from analytics.store import Store
from streams import lander as lander_module
from streams.lander import Lander


def make(tmp_path: Path, behind, batch_max: int = 100, derive_every: float = 5.0) -> Lander:
    async def no_dead_letters(_reject):
        return None

    store = Store.open(tmp_path / "s.duckdb")
    return Lander(store, {}, "dl", no_dead_letters, batch_max=batch_max, derive_every=derive_every, behind=behind)


def test_catching_up_is_a_full_batch_or_another_full_batch_waiting(tmp_path):
    assert make(tmp_path, lambda events: 0)._catching_up([object()] * 100)  # full
    assert make(tmp_path, lambda events: 100)._catching_up([object()] * 5)  # 100 more on the broker
    assert not make(tmp_path, lambda events: 99)._catching_up([object()] * 5)  # caught up

    def unknown(events):
        raise RuntimeError("no fetch yet")

    assert not make(tmp_path, unknown)._catching_up([object()] * 5)  # unknown lag: derive every batch
    assert not make(tmp_path, lambda events: 10**6, batch_max=0)._catching_up([object()] * 5)


def test_derives_are_spaced_by_their_own_duration_while_catching_up(tmp_path, monkeypatch):
    lander = make(tmp_path, lambda events: 10**6, derive_every=1.0)
    calls = []

    async def commit(batch, derive=True):
        calls.append(derive)
        return lander_module.LandResult(0, 0, 0)

    monkeypatch.setattr(lander, "_commit_with_retries", commit)
    envelope = lander_module.Envelope("t", 0, 0, "transition", b"{}")
    clock = [1000.0]
    monkeypatch.setattr(lander_module.time, "monotonic", lambda: clock[0])

    async def land_at(moment: float) -> None:
        clock[0] = moment
        await lander._land([envelope], catching_up=True)

    async def scenario() -> None:
        lander._last_derive = 1000.0
        lander._last_derive_seconds = 2.0  # the last derive took 2 s: next one 4 x 2 = 8 s later
        for moment in (1001.5, 1005.0, 1007.9, 1008.1):
            await land_at(moment)

    asyncio.run(scenario())
    # derive_every alone (1 s) would derive at 1001.5; the spacing holds it until 1008.
    assert calls == [False, False, False, True]
