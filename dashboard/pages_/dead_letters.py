"""Dead letters: input that broke the contract, with the reason and where it came from."""

from __future__ import annotations

import streamlit as st

from dashboard.filters import filters, refresh_every
from dashboard.reading import load

st.title("Dead letters")
st.caption("Rejected events never vanish: each is kept with one sentence saying why. Only the date range applies.")


@st.fragment(run_every=refresh_every())
def dead_letters() -> None:
    f = filters()
    data = load(
        "dead_letters",
        {
            "dead": f"SELECT src, kind, reason, received_at FROM dead_letters "
            f"WHERE {f.where(board=None, time='received_at')} ORDER BY received_at DESC, src LIMIT 1000",
        },
        f.params,
    )
    if data is None:
        return
    dead = data["dead"]
    if dead.empty:
        st.info("No dead letters in this range: every event received met the contract.")
        return
    st.metric("Dead letters", f"{len(dead):,}")
    st.dataframe(dead, hide_index=True, width="stretch")


dead_letters()
