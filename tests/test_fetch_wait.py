"""The worker's consumer lets the broker hold a fetch for `fetch_wait`, not Faust's fixed 1.5 s."""

from __future__ import annotations

import asyncio

import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from streams import fetch_wait
from streams.fetch_wait import set_fetch_wait


def test_the_consumer_faust_builds_gets_the_configured_fetch_wait(monkeypatch):
    # Faust's own method first (as if no worker had set the wait in this process); undone after.
    monkeypatch.setattr(AIOKafkaConsumerThread, "_create_worker_consumer", fetch_wait._original_create)
    monkeypatch.setattr(fetch_wait, "_wait_ms", None)

    async def waits() -> list[int]:
        app = faust.App("fetch-wait-test", broker="kafka://127.0.0.1:1", autodiscover=False, store="memory://")
        # Faust's AIOKafkaConsumerThread, which builds the aiokafka consumer: private, so not on ConsumerT.
        thread = app.consumer._thread  # type: ignore[attr-defined]
        found = [thread._create_worker_consumer(app.transport)._fetch_max_wait_ms]  # never started
        for seconds in (0.25, 0.1):  # 0.1 is the default, as the worker sets it
            set_fetch_wait(seconds)
            found.append(thread._create_worker_consumer(app.transport)._fetch_max_wait_ms)
        return found

    assert asyncio.run(waits()) == [1500, 250, 100]  # Faust's constant, then ours
