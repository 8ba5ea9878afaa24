"""The one way the CLI and the dashboard read the store: through the running worker's HTTP
server (Arrow IPC from /api/sql, JSON from /api/status, with the bearer token when one is
configured), or, with no worker running, from the file opened read-only.

DuckDB lets no other process open the file while the worker holds it, so the worker is the
read path. On the file, SQL runs with external access disabled and analytics.query.run_query
applies the same checks and limits as the worker does. `flowmeter snapshot` downloads through
`request` too (analytics/snapshot_client.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from analytics.catalog import documented
from analytics.lock import lock_holder
from analytics.query import QueryFailed, QueryRefused, QueryTimeout, run_query
from flowcore.errors import FlowmeterError, StoreError, StoreLocked
from flowcore.runtime import read_runtime
from flowcore.settings import Settings

if TYPE_CHECKING:
    import requests

ARROW_STREAM = "application/vnd.apache.arrow.stream"  # what /api/sql answers when asked for Arrow
Params = list[Any] | dict[str, Any]  # bound to `?`/`$1` or `$name`; JSON values (they travel as JSON)

# One row whatever the row cap: every column of the store's own tables and views.
COLUMNS_SQL = """
    SELECT list({'object': table_name, 'name': column_name, 'type': data_type} ORDER BY table_name, ordinal_position)
    FROM information_schema.columns
    WHERE table_catalog = current_database() AND table_schema = current_schema()
"""
# The worker's answers that carry a query's own verdict, as the exception the file path raises.
_ERROR_OF = {
    400: QueryRefused,
    405: QueryRefused,
    413: QueryRefused,
    415: QueryRefused,
    422: QueryFailed,
    408: QueryTimeout,
    503: QueryTimeout,
}


class WorkerUnreachable(FlowmeterError):
    """The worker's HTTP server did not answer."""


class WorkerError(FlowmeterError):
    """The worker answered, but not with a result (an unexpected status, a cut-off download)."""


class WorkerRefused(WorkerError):
    """The worker wants a bearer token, or another one (HTTP 401/403)."""


# ---- where reads go ----------------------------------------------------------------
def worker_url(conf: Settings) -> str | None:
    """The running worker's address: FLOWMETER_WORKER_URL, else the one it announced beside the file."""
    if conf.worker_url:
        return conf.worker_url.rstrip("/")
    info = read_runtime(conf)
    return info["url"] if info else None


def source(conf: Settings) -> str:
    """Where reads go, in words: the worker's address or the file."""
    url = worker_url(conf)
    return f"the worker at {url}" if url else f"{conf.db} (no worker running; read-only)"


# ---- what a client reads -------------------------------------------------------------
def fetch_status(conf: Settings, timeout: float = 5.0) -> dict[str, Any]:
    """The ingest status, from the worker when one runs, else from the file read-only."""
    url = worker_url(conf)
    if url:
        report: dict[str, Any] = request(conf, url, "GET", "/api/status", timeout=timeout).json()
        report["source"] = f"worker at {url}"
        return report
    # start-up: the store (pyarrow.compute and the writer) loads only for `flowmeter status` without a worker
    from analytics.status import ingest_report
    from analytics.store import Store

    with Store.open(conf.db, read_only=True) as store:
        return {**ingest_report(store), "as_of": None, "source": f"file {conf.db} (no worker running)"}


def query(conf: Settings, sql: str, params: Params | None = None) -> tuple[pa.Table, bool]:
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


def schema(conf: Settings) -> list[dict[str, Any]]:
    """Documented tables and views with their columns as the store has them ([] if it lacks one)."""
    table, _ = query(conf, COLUMNS_SQL)
    columns: dict[str, list[dict[str, str]]] = {}
    for column in table.column(0)[0].as_py() or []:
        columns.setdefault(column["object"], []).append({"name": column["name"], "type": column["type"]})
    return [dict(obj, columns=columns.get(obj["name"], [])) for obj in documented()]


# ---- the two transports --------------------------------------------------------------
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
        holder = lock_holder(exc)
        if holder is not None:
            raise StoreLocked(
                f"the store {path} is held by another process{holder} that announces no worker address; "
                "wait for it to finish, or set FLOWMETER_WORKER_URL to the worker's address."
            ) from None
        raise StoreError(f"cannot open the store {path}: {str(exc).splitlines()[0]}") from None
    try:
        yield con
    finally:
        con.close()


def request(
    conf: Settings, url: str, method: str, path: str, timeout: float | None = None, **kwargs: Any
) -> requests.Response:
    """One call to the worker's API with the bearer token; any answer but 200 raises one sentence."""
    import requests  # start-up: reading the file with no worker running needs no HTTP library

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
