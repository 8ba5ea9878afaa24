"""The runtime file: where a running worker tells other processes its HTTP address and broker.

The worker writes ``<db>.worker.json`` when it starts and removes it when it stops; the
dashboard, `flowmeter sql`, `status`, `produce` and the others read it to find the worker of a
store. It lives on the ground floor so that a reader finds the worker without importing it
(the worker pulls in Faust, which costs about 2 s of start-up).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from flowcore.settings import Settings


def announce(settings: Settings, url: str, broker: str) -> None:
    """Write this process's announcement for its store, atomically (a reader never sees half)."""
    info = {
        "pid": os.getpid(),
        "url": url,
        "broker": broker,
        "started_at": datetime.now(UTC).isoformat(),
        "db": str(settings.db.resolve()),
    }
    tmp = settings.runtime_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(settings.runtime_file)


def withdraw(settings: Settings) -> None:
    """Remove the announcement: the worker stopped."""
    settings.runtime_file.unlink(missing_ok=True)


def read_runtime(settings: Settings) -> dict[str, Any] | None:
    """The running worker's announcement for this store, or None when none is alive."""
    try:
        info = json.loads(settings.runtime_file.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info
