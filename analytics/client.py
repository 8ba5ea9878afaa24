"""How the dashboard and the CLI read: through the running worker's HTTP server.

DuckDB lets no other process open the file while the worker holds it, so the
worker is the read path. With no worker running, the file is opened read-only.
"""

from __future__ import annotations

from typing import Any

import requests

from flowcore.errors import FlowmeterError
from flowcore.settings import Settings


class WorkerUnreachable(FlowmeterError):
    """The worker's HTTP server did not answer."""


def worker_url(conf: Settings) -> str | None:
    if conf.worker_url:
        return conf.worker_url.rstrip("/")
    # start-up: duckdb and the store load only when no worker answers
    from flowcore.runtime import read_runtime

    info = read_runtime(conf)
    return info["url"] if info else None


def auth_headers(conf: Settings) -> dict[str, str]:
    """The bearer token the worker requires, when one is configured."""
    return {"Authorization": f"Bearer {conf.query_token.get_secret_value()}"} if conf.query_token else {}


def fetch_status(conf: Settings, timeout: float = 5.0) -> dict[str, Any]:
    """The ingest status, from the worker when one runs, else from the file read-only."""
    url = worker_url(conf)
    if url:
        try:
            response = requests.get(f"{url}/api/status", timeout=timeout, headers=auth_headers(conf))
            if response.status_code in (401, 403):
                raise WorkerUnreachable(
                    f"the worker at {url} refused the request: {response.json()['error']} "
                    "Set FLOWMETER_QUERY_TOKEN to its token."
                )
            response.raise_for_status()
        except requests.RequestException as exc:
            raise WorkerUnreachable(
                f"the worker at {url} did not answer ({exc.__class__.__name__}); is `flowmeter worker` running?"
            ) from None
        report = response.json()
        report["source"] = f"worker at {url}"
        return report
    return _status_from_file(conf)


def _status_from_file(conf: Settings) -> dict[str, Any]:
    # start-up: duckdb and the store load only when no worker answers
    from analytics.status import ingest_report
    from analytics.store import Store

    with Store.open(conf.db, read_only=True) as store:
        return {**ingest_report(store), "as_of": None, "source": f"file {conf.db} (no worker running)"}
