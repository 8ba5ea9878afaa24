"""How values read on a page: days, shares, times and durations, and what to do when the
store is still empty."""

from __future__ import annotations

from typing import Any

import pandas as pd

EMPTY_HINT = (
    "Send v1 events to the flow.transitions and flow.deploys topics (e.g. `flowmeter produce "
    "events.jsonl`), or start `flowmeter up --demo` for demo traffic."
)


def days(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.1f} d"


def age(seconds: float | None) -> str:
    """How long something has been (in a state, open, waiting), by one rule on every page: days to
    one decimal from 1 day up ('1.5 d'), hours to one decimal below ('7.2 h')."""
    if seconds is None or pd.isna(seconds):
        return "—"
    return f"{seconds / 86400:.1f} d" if seconds >= 86400 else f"{seconds / 3600:.1f} h"


def age_hours(hours: float | None) -> str:
    return age(None if hours is None or pd.isna(hours) else hours * 3600)


def count(value: Any) -> str:
    """A number of things (tickets, deploys, a WIP limit): a whole number, '—' when there is none."""
    return "—" if value is None or pd.isna(value) else f"{int(value):,}"


def percent(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.0%}"


def when(value: Any) -> str:
    """A stored (naive UTC) time, to the minute."""
    return "—" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M} UTC"


def minutes(value: float | None) -> str:
    """A duration given in minutes, in words: '45 min', '15 h 10 min', '3 d 4 h'."""
    if value is None or pd.isna(value):
        return "—"
    total = int(round(value))
    d, rest = divmod(total, 1440)
    h, m = divmod(rest, 60)
    if d:
        return f"{d} d {h} h"
    return f"{h} h {m} min" if h else f"{m} min"


def given(value: Any) -> bool:
    """Not None and not NaN (pandas turns some missing values into NaN)."""
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value is not pd.NaT
