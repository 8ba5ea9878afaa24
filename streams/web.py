"""HTTP views on the worker's own web server: the read path of the dashboard, the CLI and
anyone with curl.

Reads go through the writer because DuckDB lets no other process open the file while the
worker holds it. Every query runs on its own cursor in a thread pool, so the event loop
that carries the stream never waits for SQL (pitfall 6), and a cursor sees only whole
batches (each batch is one transaction).

GET  /api/status                 what became of every input event (the first dashboard page)
POST /api/sql  {"sql": "..."}    one read-only statement; JSON, or Arrow IPC when asked
GET  /api/sql?q=...              the same, for a quick curl
GET  /api/snapshot               a consistent, standalone DuckDB copy of the store, streamed
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import os
import shutil
import tempfile
from pathlib import Path

import faust
import pyarrow as pa
from aiohttp import web as aiohttp_web
from faust.web import View

from analytics.query import (QueryFailed, QueryRefused, QueryResult, QueryTimeout, ingest_report, jsonable,
                             run_query)
from analytics.snapshot import write_snapshot
from analytics.store import Store
from flowmeter.settings import Settings
from streams.lander import Lander

ARROW_STREAM = "application/vnd.apache.arrow.stream"
_STATUS_OF = {QueryRefused: 400, QueryFailed: 422, QueryTimeout: 408}


def register_views(app: faust.App, store: Store, lander: Lander, readers: ThreadPoolExecutor,
                   settings: Settings) -> None:
    token = settings.query_token.get_secret_value() if settings.query_token else None

    class _Api(View):
        def refuse(self, request: Any) -> Any | None:
            """401/403 when a token is configured and the request does not carry it."""
            if token is None:
                return None
            given = request.headers.get("Authorization", "")
            if not given:
                return self.error(401, "this worker requires a bearer token: send 'Authorization: Bearer <token>'.")
            if given != f"Bearer {token}":
                return self.error(403, "the bearer token is not the one this worker was configured with.")
            return None

        def error(self, status: int, message: str) -> Any:
            return self.json({"error": message}, status=status)

    @app.page("/api/status")
    class StatusView(_Api):
        async def get(self, request: Any) -> Any:
            if (refused := self.refuse(request)) is not None:
                return refused
            loop = asyncio.get_running_loop()
            report = await loop.run_in_executor(readers, ingest_report, store)
            return self.json({"as_of": jsonable(datetime.now(timezone.utc).replace(tzinfo=None)), **report,
                              "worker": vars(lander.stats)})

    @app.page("/api/sql")
    class SqlView(_Api):
        async def get(self, request: Any) -> Any:
            if (refused := self.refuse(request)) is not None:
                return refused
            sql = request.query.get("q") or request.query.get("sql") or ""
            return await self.answer(request, sql, request.query.get("format"))

        async def post(self, request: Any) -> Any:
            if (refused := self.refuse(request)) is not None:
                return refused
            if (request.content_length or 0) > settings.query_max_bytes:
                return self.error(413, f"the request is larger than {settings.query_max_bytes:,} bytes.")
            body = await request.read()
            if len(body) > settings.query_max_bytes:
                return self.error(413, f"the request is larger than {settings.query_max_bytes:,} bytes.")
            try:
                doc = json.loads(body or b"{}")
                sql = doc["sql"]
                if not isinstance(sql, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                return self.error(400, 'send a JSON object such as {"sql": "SELECT 1"}.')
            return await self.answer(request, sql, doc.get("format"))

        async def answer(self, request: Any, sql: str, fmt: str | None) -> Any:
            loop = asyncio.get_running_loop()
            try:
                result = await loop.run_in_executor(readers, _run, store, sql, settings)
            except (QueryRefused, QueryFailed, QueryTimeout) as exc:
                return self.error(_STATUS_OF[type(exc)], str(exc))
            wants_arrow = fmt == "arrow" or (fmt is None and ARROW_STREAM in request.headers.get("Accept", ""))
            headers = {"X-Flowmeter-Truncated": str(result.truncated).lower(),
                       "X-Flowmeter-Elapsed-Ms": f"{result.elapsed * 1000:.1f}"}
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
                response = aiohttp_web.StreamResponse(headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(os.path.getsize(made.path)),
                    "X-Flowmeter-Rows": json.dumps(made.rows)})
                await response.prepare(request)
                with open(made.path, "rb") as handle:
                    while chunk := await loop.run_in_executor(readers, handle.read, 1 << 20):
                        await response.write(chunk)
                await response.write_eof()
                return response
            finally:
                shutil.rmtree(workdir, ignore_errors=True)


def _snapshot(store: Store, target: Path) -> Any:
    cursor = store.cursor()
    try:
        return write_snapshot(cursor, target)
    finally:
        cursor.close()


def _run(store: Store, sql: str, settings: Settings) -> QueryResult:
    cursor = store.cursor()
    try:
        return run_query(cursor, sql, max_rows=settings.query_max_rows, timeout=settings.query_timeout)
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
        "elapsed_ms": round(result.elapsed * 1000, 1),
    }
