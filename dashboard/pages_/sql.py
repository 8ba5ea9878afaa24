"""SQL: ad hoc read-only queries on the store (through the worker, or the file read-only), with
the row count and time taken, a CSV download, and a browser of the documented views (what to
query) before the tables they are built from."""

from __future__ import annotations

import time

import streamlit as st

from analytics import client
from flowcore.errors import FlowmeterError
from flowcore.settings import load_settings

st.title("SQL")
conf = load_settings()
st.caption(
    f"Read-only, on {client.source(conf)}. Results are capped at {conf.query_max_rows:,} rows and "
    f"{conf.query_max_result_bytes / 2**20:,.0f} MiB."
)

sql = st.text_area("Query", value="SELECT * FROM wip_now ORDER BY board, position", key="sql_text", height=140)
if st.button("Run", type="primary"):
    try:
        started = time.perf_counter()
        table, truncated = client.query(conf, sql)
        st.session_state["sql_result"] = (table.to_pandas(), truncated, time.perf_counter() - started)
    except FlowmeterError as exc:
        st.session_state.pop("sql_result", None)
        st.error(str(exc))

if result := st.session_state.get("sql_result"):
    frame, truncated, took = result
    rows = f"{len(frame):,} row{'' if len(frame) == 1 else 's'}"
    st.caption(f"{rows}{' (cut at the cap)' if truncated else ''} in {took:.2f} s (the query and its transfer).")
    if truncated:
        st.warning(
            f"Only the first {len(frame):,} rows are shown (the row or size cap); narrow the query for the rest."
        )
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(
        "Download CSV", frame.to_csv(index=False).encode(), file_name="flowmeter-query.csv", mime="text/csv"
    )

st.subheader("Views")
st.caption("The documented views: the metrics, one definition each (docs/metrics.md). Query these.")
try:
    objects = client.schema(conf)
except FlowmeterError as exc:
    st.warning(str(exc))
    objects = []


def _describe(obj: dict) -> None:
    with st.expander(f"{obj['name']} ({obj['kind']})"):
        st.write(obj["description"] or "—")
        st.dataframe(
            [{"column": c["name"], "type": c["type"]} for c in obj["columns"]], hide_index=True, width="stretch"
        )


for obj in (o for o in objects if o["kind"] == "view"):
    _describe(obj)
tables = [o for o in objects if o["kind"] != "view"]
if tables:
    st.subheader("Tables")
    st.caption(
        f"{len(tables)} tables the views are built from: landed events, derived rows and bookkeeping. "
        "Most questions are answered by a view above."
    )
    for obj in tables:
        _describe(obj)
