"""Running ad hoc SQL from a client: through the running worker (Arrow IPC over HTTP, with the
bearer token when configured), or, with no worker, on the file opened read-only with external
access disabled, where analytics.query.run_query applies the same checks and limits."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import requests

from analytics.catalog import documented
from analytics.client import WorkerUnreachable, worker_url
from analytics.query import QueryFailed, QueryRefused, QueryTimeout, run_query
from flowcore.errors import FlowmeterError, StoreError, StoreLocked
from flowcore.settings import Settings

ARROW_STREAM = "application/vnd.apache.arrow.stream"  # as streams.web (not imported: it pulls in Faust)


# One row whatever the row cap: every column of the store's own tables and views.
COLUMNS_SQL = """
    SELECT list({'object': table_name, 'name': column_name, 'type': data_type} ORDER BY table_name, ordinal_position)
    FROM information_schema.columns
    WHERE table_catalog = current_database() AND table_schema = current_schema()
"""
_ERROR_OF = {
    400: QueryRefused,
    405: QueryRefused,
    413: QueryRefused,
    415: QueryRefused,
    422: QueryFailed,
    408: QueryTimeout,
    503: QueryTimeout,
}


class WorkerError(FlowmeterError):
    """The worker answered, but not with a result (an unexpected status, a cut-off download)."""


class WorkerRefused(WorkerError):
    """The worker wants a bearer token, or another one (HTTP 401/403)."""


def query(conf: Settings, sql: str, params: list[Any] | dict[str, Any] | None = None) -> tuple[pa.Table, bool]:
    """Run one read-only statement with optional bound `params`; return the result and whether
    the row or byte cap cut it."""
    url = worker_url(conf)
    if url:
        body: dict[str, Any] = {"sql": sql, "format": "arrow"}
        if params is not None:
            body["params"] = params
        response = request(conf, url, "POST", "/api/sql", json=body, headers={"Accept": ARROW_STREAM})
        try:
            table = pa.ipc.open_stream(response.content).read_all()
        except pa.ArrowInvalid:
            raise WorkerError(f"the worker at {url} did not answer in Arrow IPC; is it a flowmeter worker?") from None
        return table.replace_schema_metadata(None), response.headers.get("X-Flowmeter-Truncated") == "true"
    with open_read_only(conf.db) as con:
        result = run_query(
            con,
            sql,
            max_rows=conf.query_max_rows,
            timeout=conf.query_timeout,
            max_bytes=conf.query_max_result_bytes,
            params=params,
        )
    return result.table, result.truncated


def source(conf: Settings) -> str:
    """Where reads go, in words: the worker's address or the file."""
    url = worker_url(conf)
    return f"the worker at {url}" if url else f"{conf.db} (no worker running; read-only)"


@contextlib.contextmanager
def open_read_only(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store file, read-only: no SQL on it reaches files or the network, no setting changes."""
    path = Path(path)
    if not path.exists():
        raise StoreError(
            f"no store at {path} and no worker running on it; start one with `flowmeter up`, "
            "land events with `flowmeter load`, or pass --db."
        )
    try:
        con = duckdb.connect(
            str(path), read_only=True, config={"enable_external_access": False, "lock_configuration": True}
        )
    except duckdb.Error as exc:
        pid = re.search(r"PID (\d+)", str(exc))
        if "lock" in str(exc).lower():
            raise StoreLocked(
                f"the store {path} is held by another process{f' (PID {pid.group(1)})' if pid else ''} "
                "that announces no worker address; wait for it to finish, or set "
                "FLOWMETER_WORKER_URL to the worker's address."
            ) from None
        raise StoreError(f"cannot open the store {path}: {str(exc).splitlines()[0]}") from None
    try:
        yield con
    finally:
        con.close()


def request(
    conf: Settings, url: str, method: str, path: str, timeout: float | None = None, **kwargs: Any
) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if conf.query_token:
        headers["Authorization"] = f"Bearer {conf.query_token.get_secret_value()}"
    try:
        response = requests.request(
            method, url + path, headers=headers, timeout=(5, timeout or conf.query_timeout + 30), **kwargs
        )
    except requests.RequestException as exc:
        raise WorkerUnreachable(
            f"the worker at {url} did not answer ({exc.__class__.__name__}); is "
            "`flowmeter worker` running, or is FLOWMETER_WORKER_URL stale?"
        ) from None
    if response.status_code != 200:
        raise _worker_error(url, response)
    return response


def _worker_error(url: str, response: requests.Response) -> FlowmeterError:
    """The worker's one sentence, as the same exception class the file path raises."""
    status = response.status_code
    if status == 401:
        return WorkerRefused(
            f"the worker at {url} requires a token; set FLOWMETER_QUERY_TOKEN (or query_token "
            "in the settings file) to the one it was started with."
        )
    if status == 403:
        return WorkerRefused(
            f"the worker at {url} refused the token; FLOWMETER_QUERY_TOKEN (or query_token) is "
            "not the one it was started with."
        )
    try:
        message = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        message = None
    if message and status in _ERROR_OF:
        return _ERROR_OF[status](message)
    return WorkerError(
        f"the worker at {url} answered HTTP {status}{f' ({message})' if message else ''}; "
        "is the address a flowmeter worker of this version?"
    )


def schema(conf: Settings) -> list[dict[str, Any]]:
    """Documented tables and views with their columns as the store has them ([] if it lacks one)."""
    table, _ = query(conf, COLUMNS_SQL)
    columns: dict[str, list[dict[str, str]]] = {}
    for column in table.column(0)[0].as_py() or []:
        columns.setdefault(column["object"], []).append({"name": column["name"], "type": column["type"]})
    return [dict(obj, columns=columns.get(obj["name"], [])) for obj in documented()]
