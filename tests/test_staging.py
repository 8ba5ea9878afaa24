"""Rows staged for a write from outside store.py take their types from the store's own table."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from analytics.staging import staged


def test_staged_rows_are_typed_by_the_table_and_insert_by_name():
    con = duckdb.connect()
    con.execute("""CREATE TABLE t (id VARCHAR PRIMARY KEY, states VARCHAR[], n INTEGER, doc JSON,
                                    seen_at TIMESTAMP, extra INTEGER DEFAULT 7)""")
    # Keys in another order than the table's columns, a NULL-only column, no `extra`.
    rows = [{"seen_at": datetime(2024, 5, 1, 12), "doc": json.dumps([1]), "n": None, "states": ["Review"], "id": "a"}]
    with staged(con, "incoming", "t", rows):
        types = con.execute("SELECT typeof(COLUMNS(*)) FROM incoming").fetchone()
        con.execute("INSERT INTO t BY NAME SELECT * FROM incoming")
    # The table's types, not ones guessed from the values (n is all NULL; JSON travels as text).
    assert types == ("TIMESTAMP", "VARCHAR", "INTEGER", "VARCHAR[]", "VARCHAR")
    assert con.execute("SELECT * FROM t").fetchall() == [("a", ["Review"], None, "[1]", datetime(2024, 5, 1, 12), 7)]
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'incoming'").fetchone() == (0,)
