"""Which store a command works on, and whether a store may be replaced.

`flowmeter up --demo` writes to a store of its own (DEMO_DB), so that demo ticket ids never mix
with real ones. A newcomer then asks `flowmeter status` in the same directory, which looks for
./flowmeter.duckdb: `reading_store` sends such a command to the running demo (saying so on
stderr), and names the demo's file when the demo has stopped. `holder` tells `up --demo` not to
recreate a demo store that another run still writes to.
"""

from __future__ import annotations

from pathlib import Path

import click

from flowcore.errors import StoreError
from flowcore.runtime import read_runtime
from flowcore.settings import Settings

DEMO_DB = Path("flowmeter-demo.duckdb")


def reading_store(conf: Settings) -> Settings:
    """`conf`, or `conf` on the demo's store when no store was named (--db, FLOWMETER_DB, the
    settings file), ./flowmeter.duckdb does not exist and no worker runs on it, but the demo does."""
    named = "db" in conf.model_fields_set or conf.worker_url is not None
    if named or conf.db.exists() or read_runtime(conf) is not None:
        return conf
    demo = conf.model_copy(update={"db": DEMO_DB})
    if read_runtime(demo) is not None:
        click.echo(f"no store at {conf.db}; reading the running demo's store {DEMO_DB} (--db names another).", err=True)
        return demo
    if DEMO_DB.exists():
        raise StoreError(f"no store at {conf.db}; the demo's store is {DEMO_DB}: pass --db {DEMO_DB}.")
    return conf


def holder(conf: Settings) -> str | None:
    """Who holds the store file, in words, or None when no process does: a worker that announced
    itself (flowcore/runtime.py), or any process holding DuckDB's lock on the file."""
    info = read_runtime(conf)
    if info is not None:
        return f"the worker (PID {info['pid']}) at {info['url']}"
    if not conf.db.exists():
        return None
    # start-up: duckdb loads only for `up` on an existing store
    import duckdb

    from analytics.lock import lock_holder  # start-up: with duckdb, for the same reason

    try:
        duckdb.connect(str(conf.db), read_only=True).close()
    except duckdb.Error as exc:
        who = lock_holder(exc)
        if who is not None:
            return f"another process{who}"
    return None  # free, or damaged: either way nobody writes to it
