"""Ad hoc, read-only SQL over the live store: what may run, and running it within limits.

Read-only has two locks. DuckDB's own parser decides the statement type: only one
SELECT-like statement (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE) or an
EXPLAIN of one is accepted. And the database itself runs with external access disabled
and its configuration locked (``Store.lock_down``), so no SQL reaches the file system or
the network and no statement changes a setting, whatever the parser let through.
"""

from __future__ import annotations

import base64
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from flowmeter.errors import FlowmeterError

if TYPE_CHECKING:
    from analytics.store import Store

# What became of every input event, and the latest rejects: /api/status and `flowmeter status`.
STATUS_SQL = "SELECT * FROM ingest_status"
RECENT_DEAD_LETTERS_SQL = """
    SELECT src, kind, reason, received_at FROM dead_letters
    ORDER BY received_at DESC, src DESC LIMIT 20
"""

ALLOWED = {duckdb.StatementType.SELECT}
_EXPLAIN = re.compile(r"^\s*EXPLAIN(\s+ANALY[SZ]E)?\s+", re.IGNORECASE)
# What a refused statement type is, in words a person knows.
_WHAT = {
    "INSERT": "changes data", "UPDATE": "changes data", "DELETE": "changes data", "CREATE": "changes the schema",
    "DROP": "changes the schema", "ALTER": "changes the schema", "SET": "changes a setting",
    "VARIABLE_SET": "changes a setting", "PRAGMA": "runs a pragma", "COPY": "reads or writes files",
    "EXPORT": "writes files", "ATTACH": "opens another database", "DETACH": "closes a database",
    "LOAD": "installs or loads an extension", "CALL": "calls a procedure", "TRANSACTION": "controls transactions",
    "PREPARE": "prepares a statement", "EXECUTE": "executes a prepared statement", "MULTI": "runs several statements",
}


class QueryRefused(FlowmeterError):
    """The statement is not read-only SQL the service runs (HTTP 400)."""


class QueryFailed(FlowmeterError):
    """DuckDB could not run the statement (syntax, unknown column, ...; HTTP 422)."""


class QueryTimeout(FlowmeterError):
    """The statement ran past the time limit and was interrupted (HTTP 408)."""


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    truncated: bool  # more rows existed than the row cap
    elapsed: float  # seconds


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise QueryRefused unless `sql` is exactly one read-only statement."""
    if not sql or not sql.strip():
        raise QueryRefused("the query is empty; send one SELECT statement.")
    statements = _parse(con, sql)
    if len(statements) != 1:
        raise QueryRefused(f"send exactly one statement; this has {len(statements)}.")
    statement = statements[0]
    if statement.type == duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE runs what it explains: only an explained SELECT is read-only.
        inner = _parse(con, _EXPLAIN.sub("", sql.strip(), count=1))
        if len(inner) == 1 and inner[0].type in ALLOWED:
            return
        raise QueryRefused("EXPLAIN is accepted only for a SELECT statement.")
    if statement.type not in ALLOWED:
        name = statement.type.name
        raise QueryRefused(f"only read-only statements (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) are "
                           f"accepted; this is {name} which {_WHAT.get(name, 'is not read-only')}.")


def _parse(con: duckdb.DuckDBPyConnection, sql: str) -> list:
    try:
        return con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(_first_line(exc)) from None


def run_query(cursor: duckdb.DuckDBPyConnection, sql: str, *, max_rows: int, timeout: float) -> QueryResult:
    """Run a checked statement on its own cursor; interrupt it past `timeout` seconds."""
    check_read_only(cursor, sql)
    timed_out = threading.Event()

    def interrupt() -> None:
        timed_out.set()
        cursor.interrupt()

    timer = threading.Timer(timeout, interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        # A relation streams Arrow batches without the extra copy a DB-API result makes.
        reader = cursor.sql(sql).to_arrow_reader(min(max_rows + 1, 10_000))
        batches, rows = [], 0
        for batch in reader:
            batches.append(batch)
            rows += batch.num_rows
            if rows > max_rows:
                break
        table = pa.Table.from_batches(batches, schema=reader.schema)
    except duckdb.PermissionException:
        raise QueryRefused("SQL on this store cannot read or write files or reach the network "
                           "(read_csv, read_parquet, glob, httpfs, ...); query the tables and views.") from None
    except duckdb.InterruptException:
        raise QueryTimeout(f"the query ran longer than {timeout:g} s and was stopped; narrow it or add a LIMIT.") from None
    except duckdb.Error as exc:
        if timed_out.is_set():
            raise QueryTimeout(f"the query ran longer than {timeout:g} s and was stopped.") from None
        raise QueryFailed(_first_line(exc)) from None
    finally:
        timer.cancel()
    truncated = table.num_rows > max_rows
    return QueryResult(table.slice(0, max_rows) if truncated else table, truncated, time.perf_counter() - started)


def _first_line(exc: Exception) -> str:
    """DuckDB's own message, without the 'LINE 1: ...' caret block that follows it."""
    return str(exc).split("\n")[0].strip()


def jsonable(value: Any) -> Any:
    """A DuckDB value as JSON: times ISO-8601 (stored times are UTC: 'Z'), intervals in
    seconds, bytes in base64, non-finite doubles as null (JSON has no NaN)."""
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, (date, clock_time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def query_rows(store: "Store", sql: str) -> list[dict[str, Any]]:
    """One of our own fixed queries, as JSON-ready row objects."""
    columns, rows = store.read(sql)
    return [{c: jsonable(v) for c, v in zip(columns, row)} for row in rows]


def ingest_report(store: "Store") -> dict[str, Any]:
    """Per kind: landed, duplicates, dead-lettered; and the latest dead letters with reasons."""
    return {"kinds": query_rows(store, STATUS_SQL), "recent_dead_letters": query_rows(store, RECENT_DEAD_LETTERS_SQL)}
