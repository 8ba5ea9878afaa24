"""Ingest: is data arriving, and what became of it. Reads the worker's status (or the file
read-only when no worker runs); no metric maths here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from analytics.client import fetch_status
from dashboard.filters import refresh_every
from flowcore.errors import FlowmeterError
from flowcore.settings import load_settings

st.title("Ingest")
st.caption("Every input event ends landed, a known duplicate, or dead-lettered with a reason.")

TIME_COLUMNS = ("last_event_at", "last_landed_at", "received_at")


def _when(iso: str | None) -> str:
    """'2025-03-01T08:00:00.123000Z' -> '2025-03-01 08:00:00 UTC' (to the second)."""
    return iso[:19].replace("T", " ") + " UTC" if iso else "—"


def _table(rows: list[dict]) -> pd.DataFrame:
    # Formatted before pandas sees them: it would turn a missing time into a float NaN.
    return pd.DataFrame([{k: _when(v) if k in TIME_COLUMNS else v for k, v in row.items()} for row in rows])


def _age(iso: str | None) -> str:
    if not iso:
        return "never"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    seconds = (datetime.now(UTC) - moment).total_seconds()
    return f"{seconds:,.0f} s ago" if seconds < 120 else f"{seconds / 60:,.0f} min ago"


@st.fragment(run_every=refresh_every())
def ingest_panel() -> None:
    report: dict[str, Any] | None
    try:
        report = fetch_status(load_settings())
        st.session_state["last_report"] = report
    except FlowmeterError as exc:
        report = st.session_state.get("last_report")
        st.warning(f"{exc} {'Showing the last data received.' if report else ''}")
        if not report:
            return
    kinds = {row["kind"]: row for row in report["kinds"]}
    # A store written before incidents existed has no incident row until a worker opens it.
    none = {"received": 0, "landed": 0, "last_landed_at": None, "last_event_at": None}
    transitions, deploys, incidents = (kinds.get(kind, none) for kind in ("transition", "deploy", "incident"))
    dead = sum(row["dead_lettered"] for row in report["kinds"])
    duplicates = sum(row["duplicates"] for row in report["kinds"])

    cols = st.columns(5)
    cols[0].metric("Transitions landed", f"{transitions['landed']:,}")
    cols[1].metric("Deploys landed", f"{deploys['landed']:,}")
    cols[2].metric(
        "Incidents landed", f"{incidents['landed']:,}", help="Incident status changes (opened, acknowledged, resolved)."
    )
    cols[3].metric("Dead letters", f"{dead:,}")
    cols[4].metric("Duplicates dropped", f"{duplicates:,}")
    kinds_landed = (transitions, deploys, incidents)
    latest = max(filter(None, (k["last_landed_at"] for k in kinds_landed)), default=None)
    st.caption(
        f"Last event landed {_age(latest)} · latest transition {_when(transitions['last_event_at'])} · "
        f"latest deploy {_when(deploys['last_event_at'])} · "
        f"latest incident event {_when(incidents['last_event_at'])} · read from {report['source']}"
    )

    if not any(k["received"] for k in kinds_landed) and not dead:
        st.info(
            "No events yet. Send v1 events to the flow.transitions, flow.deploys and flow.incidents topics, e.g. "
            "`flowmeter produce events.jsonl`, or start `flowmeter up --demo` for demo traffic."
        )
        return
    st.subheader("Per kind")
    st.dataframe(_table(report["kinds"]), hide_index=True, width="stretch")
    st.subheader("Recent dead letters")
    if report["recent_dead_letters"]:
        st.dataframe(_table(report["recent_dead_letters"]), hide_index=True, width="stretch")
    else:
        st.write("None: every event so far met the contract.")


ingest_panel()
