"""Waiting without bare sleeps: poll a predicate until it holds or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def poll(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """predicate()'s first truthy value; TimeoutError naming `what` once `timeout` s have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} (last seen: {value!r:.300})")
        time.sleep(interval)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll until predicate() is truthy; fail the test with `what` when the deadline passes."""
    try:
        return poll(predicate, timeout, what, interval)
    except TimeoutError as exc:
        pytest.fail(str(exc))
