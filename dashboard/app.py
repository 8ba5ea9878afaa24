"""flowmeter dashboard: the entry point. Sets the page up, draws the sidebar (live refresh and
the filters every page applies, kept in st.session_state so they survive page changes, and bound
to the URL so a link or a reload opens the same view: dashboard/filters.py) and runs the chosen
page. Overview is home. Run with `flowmeter dashboard` (or `flowmeter up`)."""

from __future__ import annotations

import streamlit as st

from dashboard.filters import ALL, ATTRIBUTIONS, URL, default_range, options
from dashboard.navigation import PAGES, PAGES_DIR
from dashboard.signin import require_sign_in
from flowcore.settings import load_settings

st.set_page_config(page_title="flowmeter", page_icon=":material/monitoring:", layout="wide")
require_sign_in(load_settings())  # before any query: the sidebar's filter lists read the store

page = st.navigation(
    [st.Page(PAGES_DIR / file, title=title, icon=icon, default=(i == 0)) for i, (file, title, icon) in enumerate(PAGES)]
)

with st.sidebar:
    live = st.toggle("Live", value=True, key="live", help="Refresh on its own; switch off to pause.")
    st.slider("Refresh every (s)", min_value=1, max_value=60, value=3, key="every", disabled=not live)
    st.subheader("Filters")
    st.selectbox("Board", [ALL, *options("board")], key="board", bind=URL)
    st.selectbox("Team", [ALL, *options("team")], key="team", bind=URL)
    st.selectbox("Ticket type", [ALL, *options("ticket_type")], key="ticket_type", bind=URL)
    st.radio(
        "With a team chosen, a ticket counts for the teams that",
        list(ATTRIBUTIONS),
        key="attribution",
        bind=URL,
        disabled=st.session_state.get("team", ALL) == ALL,
        help="With a team chosen: only the team that held the ticket last (it finished it), or every team "
        "that held it at some point (a ticket then counts once for each of them). Applies to the figures of "
        "whole tickets: done, WIP, cycle time, flow efficiency; each page says where it does not.",
    )
    st.date_input("Date range (UTC)", value=default_range(), key="date_range", bind=URL)

page.run()
