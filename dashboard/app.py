"""flowmeter dashboard: the entry point. Sets the page up, draws the sidebar (live refresh and
the filters every page applies, kept in st.session_state so they survive page changes) and runs
the chosen page. Run with `flowmeter dashboard` (or `flowmeter up`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.data import ALL, default_range, options

PAGES = Path(__file__).parent / "pages_"

st.set_page_config(page_title="flowmeter", page_icon=":material/monitoring:", layout="wide")

page = st.navigation([
    st.Page(PAGES / "ingest.py", title="Ingest", icon=":material/input:", default=True),
    st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:"),
    st.Page(PAGES / "flow.py", title="Flow", icon=":material/stacked_line_chart:"),
    st.Page(PAGES / "cycle_time.py", title="Cycle time", icon=":material/timer:"),
    st.Page(PAGES / "aging.py", title="Aging WIP", icon=":material/hourglass_bottom:"),
    st.Page(PAGES / "handoffs.py", title="Handoffs", icon=":material/swap_horiz:"),
    st.Page(PAGES / "delivery.py", title="Delivery", icon=":material/rocket_launch:"),
    st.Page(PAGES / "dead_letters.py", title="Dead letters", icon=":material/report:"),
    st.Page(PAGES / "sql.py", title="SQL", icon=":material/terminal:"),
])

with st.sidebar:
    live = st.toggle("Live", value=True, key="live", help="Refresh on its own; switch off to pause.")
    st.slider("Refresh every (s)", min_value=1, max_value=60, value=3, key="every", disabled=not live)
    st.subheader("Filters")
    st.selectbox("Board", [ALL, *options("board")], key="board")
    st.selectbox("Team", [ALL, *options("team")], key="team")
    st.selectbox("Ticket type", [ALL, *options("ticket_type")], key="ticket_type")
    st.date_input("Date range (UTC)", value=default_range(), key="date_range")

page.run()
