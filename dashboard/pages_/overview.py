"""Overview: how much is in progress and where, what alerts are open, how much got done, how long
it takes, how often and how safely we ship, and how fresh the data is. Selects from the
documented views only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.alert_text import ALERT_COLUMNS, OPEN_ORDER, alert_table
from dashboard.dora import DORA_SQL, dora_keys
from dashboard.filters import filters, refresh_every
from dashboard.reading import load
from dashboard.text import EMPTY_HINT, days, percent

st.title("Overview")

TOP_ALERTS = 5
# Equal spans (docs/metrics.md, ticket_flow): the 7 x 24 hours up to now against the 7 x 24 before them,
# so a Monday morning is never a partial week set against a whole one.
DONE_NOW = "done_at > fm_now() - INTERVAL 7 DAY AND done_at <= fm_now()"
DONE_BEFORE = "done_at > fm_now() - INTERVAL 14 DAY AND done_at <= fm_now() - INTERVAL 7 DAY"


def _highlight_breaches(row: pd.Series) -> list[str]:
    return ["background-color: #f8d7da" if row["over_limit"] else ""] * len(row)


def _open_alerts(counts: pd.Series, top: pd.DataFrame) -> None:
    st.subheader("Open alerts")
    cols = st.columns(4)
    cols[0].metric("Open breaches", f"{int(counts['breaches']):,}", help="WIP above a limit.")
    cols[1].metric("Open warnings", f"{int(counts['warnings']):,}", help="WIP at or above a limit's warn_at.")
    cols[2].metric(
        "Open aging", f"{int(counts['aging']):,}", help="Tickets in a state longer than the state's 85th percentile."
    )
    cols[3].metric(
        "Incidents past objective",
        f"{int(counts['incidents']):,}",
        help="Incidents open longer than their severity's restore objective (docs/alerts.md).",
    )
    if top.empty:
        st.caption("None open. The board and team filters apply.")
    else:
        total = int(counts["breaches"] + counts["warnings"] + counts["aging"] + counts["incidents"])
        st.caption(
            f"Breaches and incidents first, then aging, then warnings, oldest first; "
            f"{'the first ' + str(len(top)) + ' of ' if total > len(top) else ''}{total} open. "
            "The board and team filters apply."
        )
        st.dataframe(
            alert_table(top),
            hide_index=True,
            width="stretch",
            column_config={"level": st.column_config.TextColumn(width="medium")},  # "breach, recovering"
        )
    st.page_link(
        "pages_/alerts.py", label="All alerts, their tickets and deliveries", icon=":material/notifications_active:"
    )


@st.fragment(run_every=refresh_every())
def overview() -> None:
    f = filters()
    tickets = f.ticket_where(ticket="ticket_id")  # board, team (by the chosen attribution), type
    finished = f"is_done AND cycle_time_days IS NOT NULL AND {f.ticket_where(time='done_at', ticket='ticket_id')}"
    scope = f.alert_where()
    data = load(
        "overview",
        {
            "wip": f"SELECT board, state, category, wip, wip_limit, warn_at, over_limit FROM wip_now "
            f"WHERE {f.where()} ORDER BY board, position NULLS LAST",
            "open": f"SELECT count(*) AS wip FROM ticket_current WHERE category IN ('queue', 'active') AND {tickets}",
            "done": f"SELECT count(*) FILTER (WHERE {DONE_NOW}) AS last_7, count(*) FILTER (WHERE {DONE_BEFORE}) "
            f"AS previous_7 FROM ticket_flow WHERE is_done AND {tickets}",
            # Tickets finished in the date range, the documented way for a range (docs/metrics.md,
            # cycle_time_percentiles): quantile_cont over ticket_flow, all filters as WHERE.
            "cycle": f"SELECT count(*) AS tickets, quantile_cont(cycle_time_days, 0.5) AS p50_days, "
            f"quantile_cont(cycle_time_days, 0.85) AS p85_days FROM ticket_flow WHERE {finished}",
            "pct": f"SELECT board, count(*) AS tickets, quantile_cont(cycle_time_days, 0.5) AS p50_days, "
            f"quantile_cont(cycle_time_days, 0.85) AS p85_days, quantile_cont(cycle_time_days, 0.95) AS p95_days "
            f"FROM ticket_flow WHERE {finished} GROUP BY board ORDER BY board",
            "eff": f"SELECT count(*) AS finished, avg(flow_efficiency) AS flow_efficiency FROM ticket_flow "
            f"WHERE {finished}",
            "alert_counts": f"SELECT count(*) FILTER (WHERE level = 'breach') AS breaches, "
            f"count(*) FILTER (WHERE level = 'warning') AS warnings, "
            f"count(*) FILTER (WHERE level = 'aging') AS aging, "
            f"count(*) FILTER (WHERE kind = 'incident') AS incidents FROM open_alerts WHERE {scope}",
            "alerts": f"SELECT {ALERT_COLUMNS} FROM open_alerts WHERE {scope} ORDER BY {OPEN_ORDER} LIMIT {TOP_ALERTS}",
            "dora": DORA_SQL,
            "fresh": "SELECT max(last_landed_at) AS last_landed_at, "
            "date_diff('second', max(last_landed_at), fm_now()) AS behind_s FROM ingest_status",
        },
        f.params,
    )
    if data is None:
        return
    fresh = data["fresh"].iloc[0]
    if fresh["last_landed_at"] is None or pd.isna(fresh["last_landed_at"]):
        st.info(f"No events yet. {EMPTY_HINT}")
        return
    st.caption(f"Data as of {fresh['last_landed_at']:%Y-%m-%d %H:%M:%S} UTC ({fresh['behind_s']:,} s behind)")

    wip, done, eff = data["wip"], data["done"].iloc[0], data["eff"].iloc[0]
    st.caption(
        f"{f.team_rule()} WIP and done follow the board, team and type filters; the date range applies to "
        "flow efficiency and cycle time only."
    )
    cols = st.columns(5)
    cols[0].metric(
        "WIP now",
        f"{int(data['open']['wip'].iloc[0]):,}",
        help="Tickets in a queue or active state now. Board, team and type apply; the date range does not.",
    )
    cols[1].metric(
        "States over limit",
        f"{int(wip['over_limit'].fillna(False).sum()):,}",
        help="States above a limit set on exactly that state, on the boards shown. Limits are per board and "
        "state: the team and type filters do not apply. Group, team and person limits are in the open "
        "alerts below.",
    )
    cols[2].metric(
        "Done, last 7 days",
        f"{int(done['last_7']):,}",
        delta=f"{int(done['last_7'] - done['previous_7']):+,} vs 7 days before",
        delta_color="off",
        help="Tickets that reached done in the 7 x 24 hours up to now, against the 7 x 24 hours before them "
        "(equal spans). Board, team and type apply; the date range does not.",
    )
    cols[3].metric(
        "Done, 7 days before",
        f"{int(done['previous_7']):,}",
        help="Tickets that reached done between 14 and 7 days ago (7 x 24 hours).",
    )
    cols[4].metric(
        "Flow efficiency",
        percent(eff["flow_efficiency"]),
        help=f"Active / (active + wait), averaged over the {eff['finished']} tickets finished in the date range.",
    )

    _open_alerts(data["alert_counts"].iloc[0], data["alerts"])

    cycle, pct = data["cycle"].iloc[0], data["pct"]
    st.subheader("Cycle time")
    st.caption(f"Tickets finished {f.start} – {f.end} (UTC), with the board, team and type filters.")
    if not cycle["tickets"]:
        st.info("No tickets finished in this range: cycle time needs tickets that reached a done state.")
    else:
        c = st.columns(3)
        c[0].metric("Cycle time p50", days(cycle["p50_days"]))
        c[1].metric("Cycle time p85", days(cycle["p85_days"]))
        c[2].metric("Finished tickets", f"{int(cycle['tickets']):,}")
        st.dataframe(
            pct,
            hide_index=True,
            width="stretch",
            column_config={
                "p50_days": st.column_config.NumberColumn("p50 (days)", format="%.1f"),
                "p85_days": st.column_config.NumberColumn("p85 (days)", format="%.1f"),
                "p95_days": st.column_config.NumberColumn("p95 (days)", format="%.1f"),
            },
        )

    st.subheader("WIP now against limits")
    st.caption(
        "Per board and state, now: limits are set per board and state, so the board filter applies; team, "
        "type and the date range do not."
    )
    if wip.empty:
        st.info(f"No work in progress. {EMPTY_HINT}")
    else:
        st.dataframe(
            wip.style.apply(_highlight_breaches, axis=1),
            hide_index=True,
            width="stretch",
            column_config={  # whole tickets: a column with a NULL limit comes back as float ("8.000000")
                "wip_limit": st.column_config.NumberColumn("limit", format="%d"),
                "warn_at": st.column_config.NumberColumn("warn at", format="%d"),
            },
        )

    dora_keys(data["dora"])


overview()
