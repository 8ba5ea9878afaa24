"""The client side of ad hoc SQL: `flowmeter sql`, `flowmeter schema` and `flowmeter snapshot`.

Reads go through the running worker when there is one (DuckDB lets no other process open
the file while the worker holds it): Arrow IPC over HTTP, with the bearer token when one is
configured. With no worker, the file is opened read-only, with external access disabled and
the configuration locked, and `analytics.query.run_query` applies the same checks and limits
as the worker does, so a statement behaves the same either way.

Descriptions of tables and views come from the SQL files themselves (the comment above each
`CREATE TABLE`, the first header line of each view file): one source for `flowmeter schema`,
the dashboard and the docs.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, TextIO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import requests

from analytics.query import QueryFailed, QueryRefused, QueryTimeout, jsonable, run_query
from analytics.snapshot import SnapshotError, export_parquet, write_snapshot
from dashboard.client import WorkerUnreachable, worker_url
from flowmeter.errors import FlowmeterError, StoreError, StoreLocked
from flowmeter.settings import Settings

ARROW_STREAM = "application/vnd.apache.arrow.stream"  # as streams.web (not imported: it pulls in Faust)
HISTORY_FILE = Path("~/.flowmeter_history")
HISTORY_LENGTH = 1000
CELL_WIDTH = 80  # longest value the text table shows whole
# One row whatever the row cap: every column of the store's own tables and views.
COLUMNS_SQL = """
    SELECT list({'object': table_name, 'name': column_name, 'type': data_type} ORDER BY table_name, ordinal_position)
    FROM information_schema.columns
    WHERE table_catalog = current_database() AND table_schema = current_schema()
"""
Progress = Callable[[int, str], ContextManager[Callable[[int], None]]]


class WorkerError(FlowmeterError):
    """The worker answered, but not with a result (an unexpected status, a cut-off download)."""


class WorkerRefused(WorkerError):
    """The worker wants a bearer token, or another one (HTTP 401/403)."""


# ---- running a statement -----------------------------------------------------
def query(conf: Settings, sql: str) -> tuple[pa.Table, bool]:
    """Run one read-only statement; return the result and whether the row cap cut it."""
    url = worker_url(conf)
    if url:
        response = _request(conf, url, "POST", "/api/sql", json={"sql": sql, "format": "arrow"},
                            headers={"Accept": ARROW_STREAM})
        try:
            table = pa.ipc.open_stream(response.content).read_all()
        except pa.ArrowInvalid:
            raise WorkerError(f"the worker at {url} did not answer in Arrow IPC; is it a flowmeter worker?") from None
        return table.replace_schema_metadata(None), response.headers.get("X-Flowmeter-Truncated") == "true"
    with open_read_only(conf.db) as con:
        result = run_query(con, sql, max_rows=conf.query_max_rows, timeout=conf.query_timeout)
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
        raise StoreError(f"no store at {path} and no worker running on it; start one with `flowmeter up`, "
                         "land events with `flowmeter load`, or pass --db.")
    try:
        con = duckdb.connect(str(path), read_only=True,
                             config={"enable_external_access": False, "lock_configuration": True})
    except duckdb.Error as exc:
        pid = re.search(r"PID (\d+)", str(exc))
        if "lock" in str(exc).lower():
            raise StoreLocked(f"the store {path} is held by another process{f' (PID {pid.group(1)})' if pid else ''} "
                              "that announces no worker address; wait for it to finish, or set "
                              "FLOWMETER_WORKER_URL to the worker's address.") from None
        raise StoreError(f"cannot open the store {path}: {str(exc).splitlines()[0]}") from None
    try:
        yield con
    finally:
        con.close()


def _request(conf: Settings, url: str, method: str, path: str, timeout: float | None = None,
             **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if conf.query_token:
        headers["Authorization"] = f"Bearer {conf.query_token.get_secret_value()}"
    try:
        response = requests.request(method, url + path, headers=headers,
                                    timeout=(5, timeout or conf.query_timeout + 30), **kwargs)
    except requests.RequestException as exc:
        raise WorkerUnreachable(f"the worker at {url} did not answer ({exc.__class__.__name__}); is "
                                "`flowmeter worker` running, or is FLOWMETER_WORKER_URL stale?") from None
    if response.status_code != 200:
        raise _worker_error(url, response)
    return response


_ERROR_OF = {400: QueryRefused, 413: QueryRefused, 422: QueryFailed, 408: QueryTimeout}


def _worker_error(url: str, response: requests.Response) -> FlowmeterError:
    """The worker's one sentence, as the same exception class the file path raises."""
    status = response.status_code
    if status == 401:
        return WorkerRefused(f"the worker at {url} requires a token; set FLOWMETER_QUERY_TOKEN (or query_token "
                             "in the settings file) to the one it was started with.")
    if status == 403:
        return WorkerRefused(f"the worker at {url} refused the token; FLOWMETER_QUERY_TOKEN (or query_token) is "
                             "not the one it was started with.")
    try:
        message = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        message = None
    if message and status in _ERROR_OF:
        return _ERROR_OF[status](message)
    return WorkerError(f"the worker at {url} answered HTTP {status}{f' ({message})' if message else ''}; "
                       "is the address a flowmeter worker of this version?")


# ---- writing a result --------------------------------------------------------
def write_result(table: pa.Table, fmt: str, output: Path | None, stdout: TextIO) -> None:
    """The result as `fmt`, to `output` or else to stdout (parquet needs a file)."""
    if fmt == "parquet":
        if output is None:
            raise FlowmeterError("--format parquet writes a binary file; add --output FILE.")
        pq.write_table(table, output)
        return
    text = {"table": render_table, "csv": render_csv, "json": render_json}[fmt](table)
    if output is None:
        stdout.write(text)
        stdout.flush()
    else:
        output.write_text(text, encoding="utf-8")


def _rows(table: pa.Table) -> list[tuple]:
    return list(zip(*(column.to_pylist() for column in table.columns)))


def render_table(table: pa.Table) -> str:
    """Aligned plain text: numbers right, text left, NULL spelled out, long values cut."""
    names = table.column_names
    right = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
             for f in table.schema]
    cells = [[_text(v) for v in row] for row in _rows(table)]
    widths = [max([len(n)] + [len(row[i]) for row in cells]) for i, n in enumerate(names)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    out = [line(names), line(["-" * w for w in widths])] + [line(row) for row in cells]
    out.append(f"({len(cells):,} row{'' if len(cells) == 1 else 's'})")
    return "\n".join(out) + "\n"


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if not math.isfinite(value) or value != 0 and not 1e-4 <= abs(value) < 1e15:
            return f"{value:.4g}"
        shown = f"{value:.4f}".rstrip("0")
        return shown + "0" if shown.endswith(".") else shown
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (list, dict)):
        value = json.dumps(jsonable(value), ensure_ascii=False)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    text = str(value).replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
    return text if len(text) <= CELL_WIDTH else text[:CELL_WIDTH - 1] + "…"


def render_csv(table: pa.Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in _rows(table):
        writer.writerow([_csv(jsonable(v)) for v in row])
    return buffer.getvalue()


def _csv(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def render_json(table: pa.Table) -> str:
    """An array of row objects, one per line; times ISO-8601 UTC ('Z')."""
    names = table.column_names
    rows = [json.dumps({n: jsonable(v) for n, v in zip(names, row)}, ensure_ascii=False) for row in _rows(table)]
    return "[\n" + ",\n".join(rows) + "\n]\n" if rows else "[]\n"


def truncation_note(table: pa.Table) -> str:
    return (f"note: only the first {table.num_rows:,} rows are shown; the result has more (the query_max_rows "
            "cap). Add a LIMIT or an aggregate, or raise FLOWMETER_QUERY_MAX_ROWS.")


# ---- the prompt ----------------------------------------------------------------
class Statements:
    """Collects text into statements ending with ';' outside quotes and comments."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._chars: list[str] = []
        self._quote = ""  # the open quote character, if any
        self._comment = ""  # "--" or "/*" while inside one
        self._content = False  # anything but blanks and comments so far

    @property
    def pending(self) -> bool:
        return self._content or bool(self._quote)

    def feed(self, text: str) -> list[str]:
        done, i = [], 0
        while i < len(text):
            c, pair = text[i], text[i:i + 2]
            if self._quote:
                self._quote = "" if c == self._quote else self._quote  # '' re-opens at once: escapes work
            elif self._comment == "--":
                self._comment = "" if c == "\n" else "--"
            elif self._comment == "/*":
                if pair == "*/":
                    self._comment, c, i = "", pair, i + 1
            elif pair in ("--", "/*"):
                self._comment, c, i = pair, pair, i + 1
            elif c in "'\"":
                self._quote, self._content = c, True
            elif c == ";":
                if self._content:
                    done.append("".join(self._chars).strip())
                self._chars, self._content, i = [], False, i + 1
                continue
            elif not c.isspace():
                self._content = True
            self._chars.append(c)
            i += 1
        return done

    def end(self) -> str | None:
        """The statement left without a ';' at the end of input, if any."""
        statement = "".join(self._chars).strip() if self._content else None
        self._reset()
        return statement


HELP = r"""End each statement with ';' (it may span lines). Commands:
  \d          tables and views, with what each holds
  \d NAME     the columns of a table or view
  \q          quit (or Ctrl-D)
"""


def interactive(conf: Settings, fmt: str, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Read statements until end of input or \\q and run each; return how many failed.

    A terminal gets a `flowmeter> ` prompt with line editing and history; anything else
    (a pipe, a file) is read as statements separated by ';'. An error prints one line and
    reading goes on."""
    pending, failures, tty = Statements(), 0, stdin.isatty()
    if tty:
        stdout.write(f"flowmeter sql on {source(conf)}; \\? for help, \\q to quit.\n")
    for line in _prompt_lines(pending, stdout) if tty else stdin:
        if line is None:  # Ctrl-C at the prompt: drop what was typed
            pending.end()
        elif not pending.pending and line.strip().startswith("\\"):
            if line.strip() == "\\q":
                break
            failures += not _run(lambda: _meta(conf, line.strip(), fmt, stdout), stderr)
        else:
            for statement in pending.feed(line if line.endswith("\n") else line + "\n"):
                failures += not _run(lambda s=statement: _show(conf, s, fmt, stdout, stderr), stderr)
    if last := pending.end():
        failures += not _run(lambda: _show(conf, last, fmt, stdout, stderr), stderr)
    return failures


def _run(action: Callable[[], None], stderr: TextIO) -> bool:
    try:
        action()
        return True
    except FlowmeterError as exc:
        stderr.write(f"Error: {exc}\n")
    except KeyboardInterrupt:
        stderr.write("cancelled.\n")
    stderr.flush()
    return False


def _show(conf: Settings, statement: str, fmt: str, stdout: TextIO, stderr: TextIO) -> None:
    table, truncated = query(conf, statement)
    write_result(table, fmt, None, stdout)
    if truncated:
        stderr.write(truncation_note(table) + "\n")
        stderr.flush()
    if fmt == "table":
        stdout.write("\n")  # one blank line between results


def _meta(conf: Settings, command: str, fmt: str, stdout: TextIO) -> None:
    word, _, name = command.partition(" ")
    if word == "\\d" and not name.strip():
        listing = pa.table({k: [o[k] for o in documented()] for k in ("name", "kind", "description")})
        write_result(listing, fmt, None, stdout)
    elif word == "\\d":
        described = query(conf, f"SELECT column_name, column_type FROM (DESCRIBE {name.strip()})")[0]
        write_result(described, fmt, None, stdout)
    elif word in ("\\?", "\\h", "\\help"):
        stdout.write(HELP)
        return
    else:
        raise FlowmeterError(f"unknown command {word}; \\? lists the commands.")
    if fmt == "table":
        stdout.write("\n")


def _prompt_lines(pending: Statements, stdout: TextIO) -> Iterator[str | None]:
    """Lines typed at a terminal, edited with readline; a statement typed over several lines
    becomes one history entry. Yields None for Ctrl-C; ends at Ctrl-D."""
    import readline

    history = HISTORY_FILE.expanduser()
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    readline.set_history_length(HISTORY_LENGTH)
    start = readline.get_current_history_length()
    try:
        while True:
            try:
                line = input("      ...> " if pending.pending else "flowmeter> ")
            except EOFError:
                stdout.write("\n")
                return
            except KeyboardInterrupt:
                stdout.write("\n")
                line = None
            yield line
            if not pending.pending:
                _merge_history(readline, start)
                start = readline.get_current_history_length()
    finally:
        with contextlib.suppress(OSError):
            readline.write_history_file(history)


def _merge_history(readline: Any, start: int) -> None:
    """Replace the history entries added since `start` (1-based after it) by one line."""
    end = readline.get_current_history_length()
    if end - start < 2:
        return
    lines = [readline.get_history_item(i) for i in range(start + 1, end + 1)]
    for _ in lines:
        readline.remove_history_item(start)  # 0-based: the first line of the statement
    readline.add_history(" ".join(line.strip() for line in lines if line))


# ---- schema --------------------------------------------------------------------
_VIEW_HEADER = re.compile(r"^--\s*(\w+):\s*(.+?)\s*$")


def documented() -> list[dict[str, str]]:
    """Every table and view the SQL files create, with the description written above it."""
    sql_dir = resources.files("analytics") / "sql"
    found = []
    lines = (sql_dir / "tables.sql").read_text().splitlines()
    for number, line in enumerate(lines):
        if match := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", line):
            above = []
            for previous in reversed(lines[:number]):
                if not previous.startswith("--") or previous.startswith("-- ----"):
                    break
                above.insert(0, previous[2:].strip())
            found.append({"name": match.group(1), "kind": "table", "description": " ".join(above)})
    for path in sorted((p for p in (sql_dir / "views").iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        text = path.read_text()
        header = _VIEW_HEADER.match(text.lstrip().splitlines()[0]) if text.strip() else None
        for name in re.findall(r"CREATE OR REPLACE VIEW (\w+)", text):
            description = header.group(2) if header and header.group(1) == name else ""
            found.append({"name": name, "kind": "view", "description": description})
    return found


def schema(conf: Settings) -> list[dict[str, Any]]:
    """Documented tables and views with their columns as the store has them ([] if it lacks one)."""
    table, _ = query(conf, COLUMNS_SQL)
    columns: dict[str, list[dict[str, str]]] = {}
    for column in table.column(0)[0].as_py() or []:
        columns.setdefault(column["object"], []).append({"name": column["name"], "type": column["type"]})
    return [dict(obj, columns=columns.get(obj["name"], [])) for obj in documented()]


def render_schema(objects: list[dict[str, Any]]) -> str:
    out = []
    for obj in objects:
        out.append(f"{obj['name']} ({obj['kind']}): {obj['description']}")
        width = max((len(c["name"]) for c in obj["columns"]), default=0)
        out += [f"  {c['name'].ljust(width)}  {c['type']}" for c in obj["columns"]] or ["  (not in this store)"]
        out.append("")
    return "\n".join(out)


# ---- snapshot ------------------------------------------------------------------
@dataclass(frozen=True)
class SnapshotDone:
    path: Path
    size: int  # bytes
    rows: dict[str, int]  # table -> rows in the snapshot
    source: str
    seconds: float
    parquet_dir: Path | None = None
    parquet_rows: dict[str, int] | None = None  # view -> rows exported

    def summary(self) -> str:
        main = ", ".join(f"{self.rows.get(t, 0):,} {t}" for t in ("transitions", "deploys", "dead_letters", "tickets"))
        text = (f"snapshot {self.path} ({self.size / 1e6:,.1f} MB, {len(self.rows)} tables: {main}) "
                f"from {self.source} in {self.seconds:.1f} s")
        if self.parquet_dir is not None and self.parquet_rows is not None:
            text += (f"; {len(self.parquet_rows)} views as Parquet in {self.parquet_dir} "
                     f"({sum(self.parquet_rows.values()):,} rows)")
        return text + "."


@contextlib.contextmanager
def _no_progress(_total: int, _label: str) -> Iterator[Callable[[int], None]]:
    yield lambda _n: None


def snapshot(conf: Settings, path: Path, parquet_dir: Path | None = None, views: list[str] | None = None,
             force: bool = False, progress: Progress = _no_progress) -> SnapshotDone:
    """A consistent standalone copy of the store at `path`; then, optionally, `views` (default:
    every documented view) as Parquet files in `parquet_dir`, all read from that one copy."""
    started = time.monotonic()
    path = Path(path).resolve()
    names = views or [o["name"] for o in documented() if o["kind"] == "view"]
    unknown = sorted(set(names) - {o["name"] for o in documented()})
    if unknown:
        raise SnapshotError(f"no table or view named {', '.join(unknown)}; `flowmeter schema` lists them.")
    if path.exists() and not force:
        raise SnapshotError(f"{path} exists; choose another path or pass --force to replace it.")
    if not path.parent.is_dir():
        raise SnapshotError(f"the directory {path.parent} does not exist.")
    if parquet_dir is not None:
        parquet_dir = Path(parquet_dir).resolve()
        clashes = [n for n in names if (parquet_dir / f"{n}.parquet").exists()]
        if clashes and not force:
            raise SnapshotError(f"{parquet_dir / (clashes[0] + '.parquet')} exists; choose another directory or "
                                "pass --force to replace the files.")
    url = worker_url(conf)
    if url:
        rows, where = _download(conf, url, path, progress), f"the worker at {url}"
    else:
        with open_read_only(conf.db) as con:
            rows, where = write_snapshot(con, path, overwrite=force).rows, str(conf.db)
    exported = None
    if parquet_dir is not None:
        parquet_dir.mkdir(parents=True, exist_ok=True)
        with open_read_only(path) as con:
            exported = export_parquet(con, parquet_dir, names).rows
    return SnapshotDone(path, path.stat().st_size, rows, where, time.monotonic() - started, parquet_dir, exported)


def _download(conf: Settings, url: str, target: Path, progress: Progress) -> dict[str, int]:
    """GET /api/snapshot into a hidden sibling, renamed over `target` only once whole."""
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    response = _request(conf, url, "GET", "/api/snapshot", timeout=600, stream=True)
    total = int(response.headers.get("Content-Length") or 0)
    received = 0
    try:
        with response, partial.open("wb") as out, progress(total, f"snapshot {target.name}") as advance:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)
                received += len(chunk)
                advance(len(chunk))
        if total and received != total:
            raise WorkerError(f"the snapshot download from {url} stopped after {received:,} of {total:,} bytes; "
                              "try again.")
    except requests.RequestException as exc:
        partial.unlink(missing_ok=True)
        raise WorkerUnreachable(f"the snapshot download from {url} failed ({exc.__class__.__name__}); "
                                "try again.") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return json.loads(response.headers.get("X-Flowmeter-Rows") or "{}")
