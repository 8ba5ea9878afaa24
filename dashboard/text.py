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
