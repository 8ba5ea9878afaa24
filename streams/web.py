"""HTTP views on the worker's own web server: the read path of the dashboard, the CLI and
anyone with curl.

Reads go through the writer because DuckDB lets no other process open the file while the
worker holds it. Ad hoc queries run on a pool of their own (``query_concurrency`` threads,
each on its own cursor in a read-only transaction), so however many arrive, the event
loop that carries the stream, the writer thread and ``/api/status`` never wait behind
them (docs/architecture.md#6-duckdb-work-does-not-belong-on-the-event-loop); a cursor sees
only whole batches (each batch is one transaction).

GET  /api/status                             what became of every input event
POST /api/sql  {"sql": "...", "params": [..]}  one read-only statement; JSON, or Arrow IPC when asked
GET  /api/snapshot                           a consistent, standalone DuckDB copy of the store, streamed

Nothing else is served: Faust's own pages (/, /router/, /table/) answer 404. Requests that
carry a browser Origin other than ``query_allowed_origins`` get 403, and /api/sql takes
only ``application/json``, so no web page a user visits can run a query through their
browser (docs/security.md).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import pyarrow as pa
from aiohttp import web as aiohttp_web
from faust.web import View
from faust.web.drivers.aiohttp import Web as AiohttpWeb

from analytics.query import (
    QueryFailed,
    QueryInterrupted,
    QueryRefused,
    QueryResult,
    QueryTimeout,
    jsonable,
    run_query,
)
from analytics.snapshot import write_snapshot
from analytics.status import ingest_report
from analytics.store import Store
from flowcore.settings import Settings
from streams.lander import Lander

ARROW_STREAM = "application/vnd.apache.arrow.stream"
_STATUS_OF = {QueryRefused: 400, QueryFailed: 422, QueryTimeout: 408, QueryInterrupted: 503}
API_PREFIX = "/api/"
BUSY_WAIT = 5.0  # seconds a query waits for a free slot before it is told the service is busy


def register_views(
    app: faust.App,
    store: Store,
    lander: Lander,
    readers: ThreadPoolExecutor,
    settings: Settings,
    queries: ThreadPoolExecutor,
) -> None:
    """`readers` serve our own small reads (status, snapshot); `queries` the ad hoc SQL."""
    token = settings.query_token.get_secret_value().encode() if settings.query_token else None
    slots = _Slots(settings.query_concurrency)
    _guard_web_server(app, set(settings.query_allowed_origins))

    class _Api(View):
        def refuse(self, request: Any) -> Any | None:
            """401/403 when a token is configured and the request does not carry it."""
            if token is None:
                return None
            scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
            if not scheme:
                return self.error(401, "this worker requires a bearer token: send 'Authorization: Bearer <token>'.")
            # Constant time, on bytes: compare_digest refuses non-ASCII str, and a header may hold any.
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8", "replace"), token):
                return self.error(403, "the bearer token is not the one this worker was configured with.")
            return None

        # Faust's own signature: its on_request_error passes a WebError's extra context as keywords.
        def error(self, status: int, reason: str, headers: MutableMapping | None = None, **kwargs: Any) -> Any:
            return self.json({"error": reason, **kwargs}, status=status, headers=headers)

    @app.page("/api/status")
    class StatusView(_Api):
        async def get(self, request: Any) -> Any:
            if (refused := self.refuse(request)) is not None:
                return refused
            loop = asyncio.get_running_loop()
            report = await loop.run_in_executor(readers, ingest_report, store)
            return self.json(
                {
                    "as_of": jsonable(datetime.now(UTC).replace(tzinfo=None)),
                    **report,
                    "worker": vars(lander.stats),
                    "queries": {"running": slots.running, "limit": slots.size, "turned_away": slots.turned_away},
                }
            )

    @app.page("/api/sql")
    class SqlView(_Api):
        async def get(self, request: Any) -> Any:
            if (refused := self.refuse(request)) is not None:
                return refused
            return self.error(405, 'send the query with POST and a JSON body, such as {"sql": "SELECT 1"}.')

        async def post(self, request: Any) -> Any:
            if (refused := self.refuse(request)) is not None:
                return refused
            if request.content_type != "application/json":
                return self.error(415, 'send the query as Content-Type: application/json, such as {"sql": "SELECT 1"}.')
            if (request.content_length or 0) > settings.query_max_bytes:
                return self.error(413, f"the request is larger than {settings.query_max_bytes:,} bytes.")
            body = await _read_at_most(request, settings.query_max_bytes)
            if body is None:
                return self.error(413, f"the request is larger than {settings.query_max_bytes:,} bytes.")
            try:
                doc = json.loads(body or b"{}")
                sql, params = doc["sql"], doc.get("params")
                if not isinstance(sql, str) or not isinstance(params, (list, dict, type(None))):
                    raise TypeError
            except (ValueError, KeyError, TypeError, RecursionError):
                return self.error(
                    400, 'send a JSON object such as {"sql": "SELECT ?", "params": [1]} ("params" is optional).'
                )
            return await self.answer(request, sql, params, doc.get("format"))

        async def answer(self, request: Any, sql: str, params: Any, fmt: str | None) -> Any:
            loop = asyncio.get_running_loop()
            if not await slots.acquire(BUSY_WAIT):
                return self.error(
                    503,
                    f"the query service is busy ({settings.query_concurrency} queries running); "
                    "try again in a few seconds.",
                )
            try:
                result = await loop.run_in_executor(queries, _run, store, sql, params, settings)
            except (QueryRefused, QueryFailed, QueryTimeout, QueryInterrupted) as exc:
                return self.error(_STATUS_OF[type(exc)], str(exc))
            finally:
                slots.release()
            wants_arrow = fmt == "arrow" or (fmt is None and ARROW_STREAM in request.headers.get("Accept", ""))
            headers = {
                "X-Flowmeter-Truncated": str(result.truncated).lower(),
                "X-Flowmeter-Elapsed-Ms": f"{result.elapsed * 1000:.1f}",
            }
            if result.cut_by:
                headers["X-Flowmeter-Cut-By"] = result.cut_by
            if wants_arrow:
                return self.bytes(arrow_ipc(result), content_type=ARROW_STREAM, headers=headers)
            return self.json(json_result(result), headers=headers)

    @app.page("/api/snapshot")
    class SnapshotView(_Api):
        async def get(self, request: Any) -> Any:
            if (refused := self.refuse(request)) is not None:
                return refused
            loop = asyncio.get_running_loop()
            workdir = Path(tempfile.mkdtemp(prefix="flowmeter-snapshot-"))
            try:
                made = await loop.run_in_executor(readers, _snapshot, store, workdir / "snapshot.duckdb")
                # Streamed, not held in memory: a store can be gigabytes.
                response = aiohttp_web.StreamResponse(
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(os.path.getsize(made.path)),
                        "X-Flowmeter-Rows": json.dumps(made.rows),
                    }
                )
                await response.prepare(request)
                with open(made.path, "rb") as handle:
                    while chunk := await loop.run_in_executor(readers, handle.read, 1 << 20):
                        await response.write(chunk)
                await response.write_eof()
                return response
            finally:
                shutil.rmtree(workdir, ignore_errors=True)


async def _read_at_most(request: aiohttp_web.Request, limit: int) -> bytes | None:
    """The body, or None once it passes `limit` bytes (a chunked body announces no length)."""
    chunks, size = [], 0
    while chunk := await request.content.read(65_536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


QUERY_NICENESS = 10  # ad hoc queries' threads run at this nice value: landing goes first for the CPU


def yield_cpu() -> None:
    """Lower the calling thread's CPU priority (Linux applies setpriority to one thread id), so a
    query that scans for seconds gives way to the writer and the event loop on a busy machine."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), QUERY_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: queries run at normal priority
        pass


class _Slots:
    """How many ad hoc queries run at once: a request waits briefly for a slot, then is told
    the service is busy, so a flood of queries queues neither memory nor threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.running = 0  # shown on /api/status
        self.turned_away = 0  # answered 503 busy since the worker started
        self._semaphore = asyncio.Semaphore(size)

    async def acquire(self, wait: float) -> bool:
        try:
            await asyncio.wait_for(self._semaphore.acquire(), wait)
        except TimeoutError:
            self.turned_away += 1
            return False
        self.running += 1
        return True

    def release(self) -> None:
        self.running -= 1
        self._semaphore.release()


Handler = Callable[[aiohttp_web.Request], Awaitable[aiohttp_web.StreamResponse]]


def _guard_web_server(app: faust.App, allowed_origins: set[str]) -> None:
    """Serve /api/ only (Faust's own pages stay dark) and refuse foreign browser origins."""

    @aiohttp_web.middleware
    async def guard(request: aiohttp_web.Request, handler: Handler) -> aiohttp_web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            return aiohttp_web.json_response(
                {"error": "not found; this worker serves /api/status, /api/sql and /api/snapshot."}, status=404
            )
        origin = request.headers.get("Origin")
        if origin is not None and origin not in allowed_origins:
            return aiohttp_web.json_response(
                {
                    "error": f"requests from the web page at {origin[:200]} are refused; add it to "
                    "query_allowed_origins to allow it."
                },
                status=403,
            )
        return await handler(request)

    assert isinstance(app.web, AiohttpWeb), "the worker serves through faust's aiohttp driver (its default)"
    app.web.web_app.middlewares.append(guard)


def _snapshot(store: Store, target: Path) -> Any:
    cursor = store.cursor()
    try:
        return write_snapshot(cursor, target)
    finally:
        cursor.close()


def _run(store: Store, sql: str, params: Any, settings: Settings) -> QueryResult:
    cursor = store.cursor()
    try:
        if store.readers_stopped:  # checked after the cursor is registered: a later stop interrupts it
            raise QueryInterrupted("the worker is shutting down; run the query again once it is back.")
        return run_query(
            cursor,
            sql,
            max_rows=settings.query_max_rows,
            timeout=settings.query_timeout,
            max_bytes=settings.query_max_result_bytes,
            params=params,
        )
    finally:
        cursor.close()


def arrow_ipc(result: QueryResult) -> bytes:
    table = result.table.replace_schema_metadata({"flowmeter.truncated": str(result.truncated).lower()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def json_result(result: QueryResult) -> dict[str, Any]:
    names = result.table.column_names
    return {
        "columns": [{"name": f.name, "type": str(f.type)} for f in result.table.schema],
        "rows": [{n: jsonable(v) for n, v in zip(names, row.values())} for row in result.table.to_pylist()],
        "row_count": result.table.num_rows,
        "truncated": result.truncated,
        "cut_by": result.cut_by,
        "elapsed_ms": round(result.elapsed * 1000, 1),
    }
