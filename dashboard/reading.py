"""How pages read: SQL on the documented views through the worker client (analytics/client.py:
the worker, or the file read-only when none runs), with values bound as named parameters
(`$board`, `$start`, ...), cached for a moment, a page's statements run at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import streamlit as st

from analytics import client
from flowcore.errors import FlowmeterError
from flowcore.settings import load_settings

Statement = tuple[str, dict[str, Any] | None]  # SQL and the parameters it names

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dashboard-query")  # the worker has 4 readers


def bind(sql: str, params: Mapping[str, Any] | None) -> Statement:
    """`sql` with those of `params` it names as `$name` (DuckDB refuses a parameter a statement
    does not use, and a page's statements use different ones); None when it names none."""
    named = {name: value for name, value in (params or {}).items() if re.search(rf"\${name}\b", sql)}
    return sql, named or None


@st.cache_data(ttl=2, show_spinner=False)
def _run_all(
    statements: tuple[Statement, ...], db: str, worker: str | None
) -> tuple[pd.DataFrame, ...]:  # db, worker: key
    """The statements at once, on the worker's reader threads: a page waits for its slowest query,
    not for the sum of them."""
    conf = load_settings()
    results = [_POOL.submit(client.query, conf, sql, params) for sql, params in statements]
    return tuple(future.result()[0].to_pandas() for future in results)


@st.cache_data(ttl=30, show_spinner=False)
def _run_all_slowly(statements: tuple[Statement, ...], db: str, worker: str | None) -> tuple[pd.DataFrame, ...]:
    return _run_all(statements, db, worker)


def run_all(statements: tuple[Statement, ...], changes_slowly: bool = False) -> tuple[pd.DataFrame, ...]:
    """The statements' results, cached for 2 s per store and worker (30 s when `changes_slowly`:
    lists such as the sidebar's boards and teams, which every page reads before its own queries,
    so they need not cost each page a round trip); raises FlowmeterError."""
    conf = load_settings()
    cached = _run_all_slowly if changes_slowly else _run_all
    return cached(statements, str(conf.db), conf.worker_url)


def run(sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One statement's result; raises FlowmeterError (unreachable worker, refused token, bad SQL)."""
    return run_all((bind(sql, params),))[0]


def load(page: str, queries: dict[str, str], params: Mapping[str, Any] | None = None) -> dict[str, pd.DataFrame] | None:
    """Run a page's queries, each bound to the `params` it names. When the worker cannot be read,
    say so in one sentence and return the page's last data (None if there is none yet)."""
    key = f"last:{page}"
    result: dict[str, pd.DataFrame] | None
    try:
        frames = run_all(tuple(bind(sql, params) for sql in queries.values()))
        result = dict(zip(queries, frames))
        st.session_state[key] = result
    except FlowmeterError as exc:
        result = st.session_state.get(key)
        st.warning(f"{exc} {'Showing the last data received.' if result else ''}".strip())
    return result
