"""HTTP views on the worker's own web server: the read path the first dashboard page needs.

Reads go through the writer because DuckDB lets no other process open the file
while the worker holds it. Every query runs on its own cursor in a thread pool,
so the event loop that carries the stream never waits for SQL (pitfall 6).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from typing import Any

import faust

from analytics.store import Store
from streams.lander import Lander

STATUS_SQL = "SELECT * FROM ingest_status"
RECENT_DEAD_LETTERS_SQL = """
    SELECT src, kind, reason, received_at FROM dead_letters
    ORDER BY received_at DESC, src DESC LIMIT 20
"""


def register_views(app: faust.App, store: Store, lander: Lander, readers: ThreadPoolExecutor) -> None:
    @app.page("/api/status")
    async def status(self: Any, request: Any) -> Any:
        loop = asyncio.get_running_loop()
        kinds = await loop.run_in_executor(readers, query_rows, store, STATUS_SQL)
        dead = await loop.run_in_executor(readers, query_rows, store, RECENT_DEAD_LETTERS_SQL)
        return self.json({
            "as_of": jsonable(datetime.now(timezone.utc).replace(tzinfo=None)),
            "kinds": kinds,
            "recent_dead_letters": dead,
            "worker": vars(lander.stats),
        })


def query_rows(store: Store, sql: str) -> list[dict[str, Any]]:
    columns, rows = store.read(sql)
    return [{c: jsonable(v) for c, v in zip(columns, row)} for row in rows]


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    return value
