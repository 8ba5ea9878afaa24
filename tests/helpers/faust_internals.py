"""The one place a test looks inside Faust.

streams/fetch_wait.py sets the fetch wait on the aiokafka consumer Faust builds, because Faust
has no setting for it; so the only way to see that it worked is to build that consumer and read
the value back, and both are private: Faust's consumer thread (app.consumer._thread, not on
ConsumerT) builds it with _create_worker_consumer, and aiokafka keeps the wait in
_fetch_max_wait_ms until it starts. Should a Faust or aiokafka upgrade move them, only this
module and the test that calls it (tests/test_fetch_wait.py) change.
"""

from __future__ import annotations

from typing import Any


def fetch_wait_ms_of_a_new_consumer(app: Any) -> int:
    """The fetch wait, in ms, of an aiokafka consumer Faust builds for `app` now (never started)."""
    thread = app.consumer._thread
    consumer = thread._create_worker_consumer(app.transport)
    return int(consumer._fetch_max_wait_ms)
