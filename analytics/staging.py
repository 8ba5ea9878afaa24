"""Rows written from outside store.py, typed by the store's own tables.

The alerting package writes its two tables (``alerts``, ``alert_deliveries``) through
``Store.in_transaction``. It hands its rows in as Python dicts; ``staged`` registers them as a
relation whose columns take their types from the table in sql/tables.sql, so the DDL there is
the one place those types are spelled. Statements over the relation go by column name (BY
NAME, SET), so they do not depend on the table's column order either.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa


@contextlib.contextmanager
def staged(con: duckdb.DuckDBPyConnection, name: str, table: str, rows: Sequence[Mapping[str, Any]]) -> Iterator[None]:
    """Register `rows` (at least one; each maps the same column names to values) as the relation
    `name` while the block runs; each column is typed as the column of that name in the store's
    `table`. `table` and the column names are the caller's constants, never user input."""
    columns = list(rows[0])
    names = ", ".join(f'"{column}"' for column in columns)
    schema = con.sql(f"SELECT {names} FROM {table} LIMIT 0").to_arrow_table().schema
    data = pa.table(
        [pa.array([row[c] for row in rows], field.type) for c, field in zip(columns, schema)], schema=schema
    )
    con.register(name, data)
    try:
        yield
    finally:
        con.unregister(name)
