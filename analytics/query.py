"""Ad hoc, read-only SQL over the live store: what may run, and running it within limits.

Read-only is kept by the engine, not by reading the statement. Every ad hoc query runs
inside a transaction that DuckDB itself launched READ ONLY and that is always rolled back
(``read_only_transaction``): DuckDB refuses any write in it, whatever the statement says,
including ``WITH d AS (DELETE ... RETURNING 1) SELECT ...``, which DuckDB's own parser
reports as a SELECT (docs/security.md). With no worker running, the file is opened
read-only as well. The database also runs with external access disabled and its
configuration locked (``Store.lock_down``), so no SQL reaches files or the network and
no statement changes a setting.

The statement-type check that comes first (one SELECT-like statement, or an EXPLAIN of
one) is not the guarantee: it only turns the common refusals into a sentence a person
understands before anything runs.

Limits: rows (``query_max_rows``), result bytes (``query_max_result_bytes``), time
(``query_timeout``, by interrupting the cursor). How many queries run at once is the
caller's to bound (streams/web.py runs them on a pool of their own).
"""

from __future__ import annotations

import base64
import contextlib
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

from flowcore.errors import FlowmeterError
from flowcore.text import is_utf8

ALLOWED = {duckdb.StatementType.SELECT}
_EXPLAIN = re.compile(r"^\s*EXPLAIN(\s+ANALY[SZ]E)?\s+", re.IGNORECASE)
# What a refused statement type is, in words a person knows.
_WHAT = {
    "INSERT": "changes data",
    "UPDATE": "changes data",
    "DELETE": "changes data",
    "CREATE": "changes the schema",
    "DROP": "changes the schema",
    "ALTER": "changes the schema",
    "SET": "changes a setting",
    "VARIABLE_SET": "changes a setting",
    "PRAGMA": "runs a pragma",
    "COPY": "reads or writes files",
    "EXPORT": "writes files",
    "ATTACH": "opens another database",
    "DETACH": "closes a database",
    "LOAD": "installs or loads an extension",
    "CALL": "calls a procedure",
    "TRANSACTION": "controls transactions",
    "PREPARE": "prepares a statement",
    "EXECUTE": "executes a prepared statement",
    "MULTI": "runs several statements",
}


class QueryRefused(FlowmeterError):
    """The statement is not read-only SQL the service runs (HTTP 400)."""


class QueryFailed(FlowmeterError):
    """DuckDB could not run the statement (syntax, unknown column, ...; HTTP 422)."""


class QueryTimeout(FlowmeterError):
    """The statement ran past the time limit and was interrupted (HTTP 408)."""


class QueryInterrupted(FlowmeterError):
    """The worker stopped while the statement ran (HTTP 503: try again)."""


# Arrow batches are read this many rows at a time so the byte cap is checked often. DuckDB still
# materialises a whole vector (2,048 rows) before the first batch: that is the floor of what one
# query holds, which is why the caller also bounds how many run at once.
_BATCH_ROWS = 256
# What DuckDB says when a read-only transaction meets a write (DuckDB 2.0).
_READ_ONLY_REFUSAL = "transaction is launched in read-only mode"


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    truncated: bool  # the row or byte cap cut the result
    elapsed: float  # seconds
    cut_by: str | None = None  # 'rows' | 'bytes' when truncated


@contextlib.contextmanager
def read_only_transaction(cursor: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run what follows in a transaction DuckDB launched READ ONLY, and always roll it back.

    DuckDB refuses every write in such a transaction (INSERT/UPDATE/DELETE in any CTE,
    DDL, sequences), and the rollback undoes anything a statement could still leave in the
    transaction: the store is unchanged by construction. It holds while the writer thread
    commits batches, since each reader transaction sees its own consistent snapshot.
    """
    cursor.execute("BEGIN TRANSACTION READ ONLY")
    try:
        yield cursor
    finally:
        with contextlib.suppress(duckdb.Error):  # a COMMIT/ROLLBACK statement may have ended it
            cursor.execute("ROLLBACK")


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise QueryRefused unless `sql` is exactly one read-only statement."""
    if not sql or not sql.strip():
        raise QueryRefused("the query is empty; send one SELECT statement.")
    if not is_utf8(sql):
        raise QueryRefused(
            "the query holds text that is not valid Unicode (a lone surrogate such as \\ud800, "
            "or bytes that are not UTF-8); send UTF-8 text."
        )
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
        raise QueryRefused(
            f"only read-only statements (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) are "
            f"accepted; this is {name} which {_WHAT.get(name, 'is not read-only')}."
        )


def _parse(con: duckdb.DuckDBPyConnection, sql: str) -> list:
    try:
        return con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(_first_line(exc)) from None


def run_query(
    cursor: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    max_rows: int,
    timeout: float,
    max_bytes: int = 0,
    params: list[Any] | dict[str, Any] | None = None,
) -> QueryResult:
    """Run a checked statement on its own cursor, in a read-only transaction that is rolled
    back; interrupt it past `timeout` seconds; keep at most `max_rows` rows and (when set)
    `max_bytes` bytes of Arrow data. `params` are bound to the statement's ``?`` or ``$name``."""
    check_read_only(cursor, sql)
    try:
        with read_only_transaction(cursor):
            return _run_checked(cursor, sql, max_rows, timeout, max_bytes, params)
    except duckdb.Error as exc:  # BEGIN itself failed: interrupted as the worker stops, say
        raise _answer_for(exc, False, timeout) from None


def _run_checked(
    cursor: duckdb.DuckDBPyConnection,
    sql: str,
    max_rows: int,
    timeout: float,
    max_bytes: int,
    params: list[Any] | dict[str, Any] | None,
) -> QueryResult:
    timed_out = threading.Event()

    def interrupt() -> None:
        timed_out.set()
        cursor.interrupt()

    timer = threading.Timer(timeout, interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        # A relation streams Arrow batches without the extra copy a DB-API result makes.
        relation = cursor.sql(sql, params=params) if params is not None else cursor.sql(sql)
        reader = relation.to_arrow_reader(min(max_rows + 1, _BATCH_ROWS))
        batches, rows, size, cut_by = [], 0, 0, None
        for batch in reader:
            batches.append(batch)
            rows += batch.num_rows
            size += batch.nbytes
            if rows > max_rows:
                cut_by = "rows"
                break
            if max_bytes and size > max_bytes:
                cut_by = "bytes"
                break
        table = pa.Table.from_batches(batches, schema=reader.schema)
    except (duckdb.Error, OSError, pa.ArrowException) as exc:
        raise _answer_for(exc, timed_out.is_set(), timeout) from None
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - started
    if cut_by == "rows":
        return QueryResult(table.slice(0, max_rows), True, elapsed, cut_by)
    if cut_by == "bytes":
        return QueryResult(_within_bytes(table, max_bytes), True, elapsed, cut_by)
    return QueryResult(table, False, elapsed)


def _answer_for(exc: Exception, timed_out: bool, timeout: float) -> FlowmeterError:
    """The query service's sentence for what stopped a query. DuckDB raises its own types while
    the statement starts; once the Arrow reader streams, the same errors come through pyarrow
    (an interrupt as OSError "INTERRUPT Error: Interrupted!"), so the text decides as well."""
    text = _first_line(exc)
    if isinstance(exc, duckdb.PermissionException):
        return QueryRefused(
            "SQL on this store cannot read or write files or reach the network "
            "(read_csv, read_parquet, glob, httpfs, ...); query the tables and views."
        )
    if _READ_ONLY_REFUSAL in text:
        return QueryRefused(
            "this statement would change the store, and ad hoc SQL is read-only: "
            "DuckDB refused the write and nothing was changed."
        )
    if timed_out:
        return QueryTimeout(f"the query ran longer than {timeout:g} s and was stopped; narrow it or add a LIMIT.")
    if isinstance(exc, duckdb.InterruptException) or text.startswith("INTERRUPT"):
        # Not our timer: the worker is stopping (Store.interrupt_readers).
        return QueryInterrupted(
            "the query was stopped because the worker is shutting down; run it again once it is back."
        )
    return QueryFailed(text)


def _within_bytes(table: pa.Table, max_bytes: int) -> pa.Table:
    """The longest head of `table` whose Arrow data stays within max_bytes (no rows when the
    first alone is larger: the cap bounds what the worker serialises, whatever the rows hold)."""
    low, high = 0, table.num_rows
    while low < high:  # binary search: nbytes of a slice is cheap (no copy)
        middle = (low + high + 1) // 2
        if table.slice(0, middle).nbytes <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return table.slice(0, low)


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
