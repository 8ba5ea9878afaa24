"""SQL: ad hoc read-only queries on the store (through the worker, or the file read-only), with
the row count and time taken, a CSV download, the documented views (what to query) listed before
the tables they are built from, and the columns of the one chosen."""

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
# One table per kind and one columns table for the object chosen, not an expander per object: ~60
# expanders each holding a table cost the browser about a second on every visit, though all were closed.
views = [o for o in objects if o["kind"] == "view"]
tables = [o for o in objects if o["kind"] != "view"]


def _listing(objs: list[dict]) -> None:
    st.dataframe(
        [{"name": o["name"], "what it holds": o["description"] or "—", "columns": len(o["columns"])} for o in objs],
        hide_index=True,
        width="stretch",
    )


if views:
    _listing(views)
if tables:
    st.subheader("Tables")
    st.caption(
        f"{len(tables)} tables the views are built from: landed events, derived rows and bookkeeping. "
        "Most questions are answered by a view above."
    )
    _listing(tables)
if objects:
    st.subheader("Columns")
    by_name = {o["name"]: o for o in views + tables}  # views first, as above
    chosen = st.selectbox("Columns of", list(by_name), key="sql_columns_of")
    st.dataframe(
        [{"column": c["name"], "type": c["type"]} for c in by_name[chosen]["columns"]],
        hide_index=True,
        width="stretch",
    )
