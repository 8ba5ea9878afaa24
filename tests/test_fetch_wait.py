"""The worker's consumer lets the broker hold a fetch for `fetch_wait`, not Faust's fixed 1.5 s."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import faust
import pytest

from streams.fetch_wait import clear_fetch_wait, set_fetch_wait
from tests.helpers.faust_internals import fetch_wait_ms_of_a_new_consumer


@pytest.fixture
def faust_default() -> Iterator[None]:
    """Faust's own consumer first (as if no worker had set the wait in this process), and after."""
    clear_fetch_wait()
    yield
    clear_fetch_wait()


def test_the_consumer_faust_builds_gets_the_configured_fetch_wait(faust_default):
    async def waits() -> list[int]:
        app = faust.App("fetch-wait-test", broker="kafka://127.0.0.1:1", autodiscover=False, store="memory://")
        found = [fetch_wait_ms_of_a_new_consumer(app)]
        for seconds in (0.25, 0.1):  # 0.1 is the default, as the worker sets it
            set_fetch_wait(seconds)
            found.append(fetch_wait_ms_of_a_new_consumer(app))
        return found

    assert asyncio.run(waits()) == [1500, 250, 100]  # Faust's constant, then ours
