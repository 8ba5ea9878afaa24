"""SQL: ad hoc read-only queries on the store (through the worker, or the file read-only), with
a CSV download and a browser of the documented tables and views."""

from __future__ import annotations

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
        table, truncated = client.query(conf, sql)
        st.session_state["sql_result"] = (table.to_pandas(), truncated)
    except FlowmeterError as exc:
        st.session_state.pop("sql_result", None)
        st.error(str(exc))

if result := st.session_state.get("sql_result"):
    frame, truncated = result
    if truncated:
        st.warning(
            f"Only the first {len(frame):,} rows are shown (the row or size cap); narrow the query for the rest."
        )
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(
        "Download CSV", frame.to_csv(index=False).encode(), file_name="flowmeter-query.csv", mime="text/csv"
    )

st.subheader("Schema")
try:
    objects = client.schema(conf)
except FlowmeterError as exc:
    st.warning(str(exc))
    objects = []
for obj in objects:
    with st.expander(f"{obj['name']} ({obj['kind']})"):
        st.write(obj["description"] or "—")
        st.dataframe(
            [{"column": c["name"], "type": c["type"]} for c in obj["columns"]], hide_index=True, width="stretch"
        )
