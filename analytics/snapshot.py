"""Consistent, standalone copies of the store, taken while the worker keeps writing.

One cursor, one read transaction: every table is read as of the same moment, so a
copy never holds part of a batch. The new DuckDB file gets the store's own tables first
(sql/tables.sql: keys, NOT NULL, defaults), the rows stream in as Arrow, then it gets the
same macros and views: the copy answers the same queries (DuckDB CLI, notebooks) and is a
store `flowmeter load`, `remap` and the worker can write to. Written to a temporary name
and renamed, so a copy is whole or absent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from flowcore.errors import FlowmeterError

# What a snapshot copies: every table of sql/tables.sql (the landed facts, bookkeeping, mapping and
# derived tables). derive_backlog too: tickets a worker catching up has not derived yet are derived
# when the restored store is first opened for writing, as after a crash.
TABLES = (
    "transitions",
    "deploys",
    "incidents",
    "dead_letters",
    "ingest_positions",
    "ingest_counts",
    "workflow_states",
    "workflow_aliases",
    "wip_limits",
    "production_environments",
    "incident_link_window",
    "severity_levels",
    "ticket_type_roles",
    "flowmeter_meta",
    "derive_backlog",
    "visits",
    "tickets",
    "alerts",
    "alert_deliveries",
    "log_resets",
    "sync_cursors",
)


class SnapshotError(FlowmeterError):
    """The snapshot could not be written (the target exists, a directory is missing, ...)."""


@dataclass(frozen=True)
class SnapshotResult:
    path: str
    rows: dict[str, int]


def write_snapshot(cursor: duckdb.DuckDBPyConnection, target: Path, overwrite: bool = False) -> SnapshotResult:
    target = Path(target).resolve()
    if target.exists() and not overwrite:
        raise SnapshotError(f"{target} exists; choose another path or pass --force to replace it.")
    if not target.parent.is_dir():
        raise SnapshotError(f"the directory {target.parent} does not exist.")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    rows: dict[str, int] = {}
    cursor.execute("BEGIN TRANSACTION READ ONLY")  # a reader: DuckDB refuses any write
    try:
        with duckdb.connect(str(partial)) as copy:
            # The schema from its file, not CREATE TABLE AS: that drops the primary keys the
            # store's upserts (INSERT ... ON CONFLICT) need, so a copy could be read but not written.
            copy.execute((resources.files("analytics") / "sql" / "tables.sql").read_text())
            for table in TABLES:
                reader = cursor.sql(f"SELECT * FROM {table}").to_arrow_reader(100_000)
                copy.register("incoming", reader)
                copy.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
                copy.unregister("incoming")
                rows[table] = copy.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            _add_views(copy)
            copy.execute("CHECKPOINT")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        cursor.execute("ROLLBACK")
    os.replace(partial, target)
    return SnapshotResult(str(target), rows)


def export_parquet(cursor: duckdb.DuckDBPyConnection, directory: Path, names: list[str]) -> SnapshotResult:
    """One Parquet file per table or view, all read in one transaction (consistent)."""
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise SnapshotError(f"the directory {directory} does not exist.")
    known = {r[0] for r in cursor.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SnapshotError(f"no table or view named {', '.join(unknown)}; `flowmeter schema` lists them.")
    rows: dict[str, int] = {}
    cursor.execute("BEGIN TRANSACTION READ ONLY")  # a reader: DuckDB refuses any write
    try:
        for name in names:
            table = cursor.sql(f"SELECT * FROM {name}").to_arrow_table()
            pq.write_table(table, directory / f"{name}.parquet")
            rows[name] = table.num_rows
    finally:
        cursor.execute("ROLLBACK")
    return SnapshotResult(str(directory), rows)


def _add_views(con: duckdb.DuckDBPyConnection) -> None:
    sql_dir = resources.files("analytics") / "sql"
    con.execute((sql_dir / "macros.sql").read_text())
    for view in sorted((p for p in (sql_dir / "views").iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        con.execute(view.read_text())
