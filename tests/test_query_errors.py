"""Whatever happens to an ad hoc query while its Arrow result streams, the answer is one of the
query service's sentences, never an exception the HTTP layer turns into a 500 (found by the
hostile-query benchmark: an interrupt mid-stream surfaced as pyarrow's OSError)."""

from __future__ import annotations

import threading

import duckdb
import pytest

from analytics.query import QueryFailed, QueryInterrupted, QueryTimeout, run_query

ENDLESS = "SELECT * FROM range(1000000000)"  # streams for minutes


def test_a_timeout_while_the_result_streams_is_a_timeout():
    with pytest.raises(QueryTimeout, match="ran longer than 0.3 s"):
        run_query(duckdb.connect().cursor(), ENDLESS, max_rows=10**9, timeout=0.3)


def test_an_interrupt_from_outside_while_streaming_says_the_worker_is_stopping():
    cursor = duckdb.connect().cursor()
    timer = threading.Timer(0.3, cursor.interrupt)  # what Store.interrupt_readers does on shutdown
    timer.start()
    try:
        with pytest.raises(QueryInterrupted, match="shutting down"):
            run_query(cursor, ENDLESS, max_rows=10**9, timeout=60)
    finally:
        timer.cancel()


def test_an_error_raised_mid_stream_is_duckdbs_sentence():
    # Rows 0..5000 convert; row 5001 does not: the error comes after the first batches streamed.
    sql = "SELECT CAST(CASE WHEN range > 5000 THEN 'x' ELSE '1' END AS INT) FROM range(100000)"
    with pytest.raises(QueryFailed, match="^Conversion Error: Could not convert string 'x' to INT32$"):
        run_query(duckdb.connect().cursor(), sql, max_rows=10**9, timeout=30)
