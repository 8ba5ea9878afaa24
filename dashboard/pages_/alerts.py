"""Alerts: what the alert evaluator raised and when. Open alerts first (breaches first, then
oldest), then the episodes that started and resolved in the date range, each with its tickets
and how its notices were delivered. Selects from alert_log, open_alerts, alert_deliveries and
wip_limits only.

Notifications link to `<dashboard>/alerts?alert=<alert_id>`: that alert is highlighted and
opened, and shown even when the sidebar filters would hide it."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard.alert_text import ALERT_COLUMNS, OPEN_ORDER, alert_delivery, alert_level, alert_table, alert_title
from dashboard.filters import filters, refresh_every
from dashboard.reading import load
from dashboard.text import age_hours, when

st.title("Alerts")
st.caption(
    "Board and team filters apply (team: the limit is that team's, or a ticket in the alert is); the date "
    "range applies to the history, by when an alert started. Ticket type does not apply."
)
SHOWN = 10  # alerts with a details expander, per section (each holds tables; more slowed the page)
HISTORY_ROWS = 1000  # resolved alerts listed
TICKET_COLUMNS = ["ticket_id", "state", "assignee", "team", "entered_state_at", "age_hours"]
BREACH = "background-color: #f8d7da"  # red: over the limit now
EASING = "background-color: #fde8cf"  # amber: was over the limit, kept again, the cooldown runs
LINKED = "background-color: #fff3cd"
DELIVERY_COLUMNS = (
    "notice, route, route_kind, status, attempts, resends, created_at, next_attempt_at, delivered_at, last_error"
)
HOW_TO = """\
[[boards.payments.wip_limits]]
states = ["Review"]          # one state, or a group: ["In Progress", "Review"]
limit = 4                    # a breach when more than 4 tickets are in it
warn_at = 3                  # optional: a warning from 3
routes = ["payments-slack"]  # optional: where notices go ([alerts.payments-slack])
"""


def _linked() -> str | None:
    value = st.query_params.get("alert")
    return (value.strip() or None) if isinstance(value, str) else None


def _tickets(raw: str | None) -> pd.DataFrame:
    """The alert's `tickets` JSON as a table of the documented fields (a field left out is empty)."""
    try:
        rows = json.loads(raw) if raw else []
    except ValueError:
        rows = []
    rows = [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []
    tickets = pd.DataFrame(rows).reindex(columns=TICKET_COLUMNS)
    tickets["age"] = [age_hours(h) for h in tickets["age_hours"]]  # the one age rule (dashboard/text.py)
    return tickets.drop(columns="age_hours")


def _highlight(linked: str | None):
    def paint(row: pd.Series) -> list[str]:
        if row["alert_id"] == linked:
            colour = LINKED
        elif row["level"] == "breach" and row["status"] == "open":
            colour = BREACH
        elif row["level"] == "breach, recovering":
            colour = EASING
        else:
            colour = ""
        return [colour] * len(row)

    return paint


def _details(alert: pd.Series, deliveries: pd.DataFrame, linked: str | None) -> None:
    is_linked = alert["alert_id"] == linked
    status = "" if alert["status"] == "recovering" else f" · {alert['status']}"  # the level says recovering
    label = f"{alert_title(alert)} · {alert_level(alert)}{status} · started {when(alert['started_at'])}" + (
        " · linked" if is_linked else ""
    )
    with st.expander(label, expanded=is_linked, icon=":material/link:" if is_linked else None):
        if alert["kind"] == "incident":  # an incident names no states and no tickets
            st.markdown(
                f"**Service:** {alert['board']} · **incident:** {alert['limit_name']} (the Stability page has its "
                f"timeline) · **delivery:** {alert_delivery(alert)} · **alert id:** `{alert['alert_id']}`"
            )
        else:
            st.markdown(
                f"**States:** {alert['states']} · **delivery:** {alert_delivery(alert)} · "
                f"**alert id:** `{alert['alert_id']}`"
            )
            tickets = _tickets(alert["tickets"])
            st.markdown(f"**Tickets when it fired** ({len(tickets)})")
            if tickets.empty:
                st.write("None recorded.")
            else:
                st.dataframe(tickets, hide_index=True, width="stretch")
        mine = deliveries[deliveries["alert_id"] == alert["alert_id"]].drop(columns="alert_id").reset_index(drop=True)
        st.markdown(f"**Deliveries** ({len(mine)})")
        if mine.empty:
            st.write(
                "No notices: the alert was not routed anywhere." if not alert["notified"] else "No delivery rows yet."
            )
        else:
            st.dataframe(mine, hide_index=True, width="stretch")


def _painted(table: pd.DataFrame, linked: str | None) -> bool:
    """Whether any row gets a colour (_highlight): a pandas Styler costs the server about 0.4 s per
    1,000 rows even when it paints nothing, and the history rarely needs one."""
    return bool(
        (table["alert_id"] == linked).any()
        or ((table["level"] == "breach") & (table["status"] == "open")).any()
        or (table["level"] == "breach, recovering").any()
    )


def _section(alerts: pd.DataFrame, deliveries: pd.DataFrame, linked: str | None) -> None:
    table = alert_table(alerts)
    st.dataframe(
        table.style.apply(_highlight(linked), axis=1) if _painted(table, linked) else table,
        hide_index=True,
        width="stretch",
        column_config={"level": st.column_config.TextColumn(width="medium")},  # "breach, recovering"
    )
    shown = alerts.head(SHOWN)
    if linked in set(alerts["alert_id"]) and linked not in set(shown["alert_id"]):
        shown = pd.concat([shown, alerts[alerts["alert_id"] == linked]])
    for _, alert in shown.iterrows():
        _details(alert, deliveries, linked)


@st.fragment(run_every=refresh_every())
def alerts() -> None:
    f = filters()
    linked = _linked()
    scope = f.alert_where()
    history = f"status = 'resolved' AND {scope} AND {f.where(board=None, time='started_at')}"
    latest = "ORDER BY started_at DESC, alert_id"
    # Deliveries of the alerts that get a details expander (the first SHOWN of each list, and the linked one).
    ids = (
        f"SELECT alert_id FROM (SELECT alert_id FROM open_alerts WHERE {scope} ORDER BY {OPEN_ORDER} LIMIT {SHOWN}) "
        f"UNION ALL SELECT alert_id FROM (SELECT alert_id FROM alert_log WHERE {history} {latest} LIMIT {SHOWN})"
    )
    if linked:
        ids += " UNION ALL SELECT $linked::VARCHAR"
    queries = {
        "open": f"SELECT {ALERT_COLUMNS} FROM open_alerts WHERE {scope} ORDER BY {OPEN_ORDER}",
        "history": f"SELECT {ALERT_COLUMNS} FROM alert_log WHERE {history} {latest} LIMIT {HISTORY_ROWS}",
        "resolved": f"SELECT count(*) AS n FROM alert_log WHERE {history}",
        "deliveries": f"SELECT alert_id, {DELIVERY_COLUMNS} FROM alert_deliveries WHERE alert_id IN ({ids}) "
        f"ORDER BY alert_id, created_at, route",
        "limits": f"SELECT board, name, array_to_string(states, ' + ') AS states, wip_limit, warn_at, team, person, "
        f"array_to_string(routes, ', ') AS routes FROM wip_limits WHERE {f.where()} ORDER BY board, name",
    }
    if linked:
        queries["linked"] = f"SELECT {ALERT_COLUMNS} FROM alert_log WHERE alert_id = $linked"
    data = load("alerts", queries, {**f.params, "linked": linked})
    if data is None:
        return
    open_, past, deliveries, limits = data["open"], data["history"], data["deliveries"], data["limits"]

    if linked:
        found = data["linked"]
        if found.empty:
            st.warning(f"There is no alert {linked} in the store (the link may be from another store).")
        elif linked not in set(open_["alert_id"]) and linked not in set(past["alert_id"]):
            st.subheader("Linked alert")
            st.caption("Outside the current filters; shown because the link asked for it.")
            st.dataframe(alert_table(found), hide_index=True, width="stretch")
            _details(found.iloc[0], deliveries, linked)

    levels = open_["level"].where(open_["kind"] != "incident", "incident").value_counts()
    cols = st.columns(5)
    cols[0].metric("Open breaches", f"{levels.get('breach', 0):,}", help="WIP above the limit.")
    cols[1].metric("Open warnings", f"{levels.get('warning', 0):,}", help="WIP at or above warn_at.")
    cols[2].metric(
        "Open aging",
        f"{levels.get('aging', 0):,}",
        help="A ticket in its state longer than that state's 85th percentile.",
    )
    cols[3].metric(
        "Open incidents",
        f"{levels.get('incident', 0):,}",
        help="Incidents open longer than their severity's restore objective (docs/alerts.md).",
    )
    resolved = int(data["resolved"]["n"].iloc[0])
    cols[4].metric("Resolved in range", f"{resolved:,}")

    if open_.empty and past.empty:
        set_limits = f"{len(limits):,} WIP limit{'s are' if len(limits) != 1 else ' is'} set" + (
            " for this board" if f.board else ""
        )
        st.info(
            f"No alerts here yet ({set_limits}). Alerts fire when a WIP limit is broken, or a ticket waits in "
            "a state longer than the state's 85th percentile. Set WIP limits per board in the settings file "
            "(see docs/workflow.md), then restart the worker or run `flowmeter remap`:"
        )
        st.code(HOW_TO, language="toml")
    else:
        st.subheader("Open now")
        if open_.empty:
            st.success(
                "No open alerts match these filters."
                if f.board or f.team
                else "No open alerts: every WIP limit is kept and no ticket is aging past its state's p85."
            )
        else:
            _section(open_, deliveries, linked)
        st.subheader("History")
        st.caption(
            f"Alerts that started {f.start} – {f.end} (UTC) and have resolved, latest first"
            + (f"; the latest {len(past):,} of {resolved:,}." if resolved > len(past) else ".")
        )
        if past.empty:
            st.write("No resolved alerts in this range.")
        else:
            _section(past, deliveries, linked)

    with st.expander(f"WIP limits set ({len(limits)})"):
        if limits.empty:
            st.write("None. Add `[[boards.<name>.wip_limits]]` entries to the settings file (docs/workflow.md).")
        else:
            st.dataframe(
                limits,
                hide_index=True,
                width="stretch",
                column_config={  # whole tickets: pandas reads a column with a NULL as float ("8.000000")
                    "wip_limit": st.column_config.NumberColumn("limit", format="%d"),
                    "warn_at": st.column_config.NumberColumn("warn at", format="%d"),
                },
            )


alerts()
