"""Commands that need no Faust start without it: `flowmeter --help`, `sql` and `status` on a
store file import neither Faust, aiohttp (its web server) nor Streamlit (docs/architecture.md#start-up).
Each runs in a fresh interpreter, as a user starts it; what it imported is read at its exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.store import Store

HEAVY = ("faust", "aiohttp", "streamlit")
# Runs the CLI with the given arguments and, however it exits, names the heavy packages it loaded.
PROBE = f"""
import sys
from flowmeter.cli import main
sys.argv = ["flowmeter", *sys.argv[1:]]
try:
    main()
finally:
    loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
    print("loaded:", ",".join(loaded) or "-", file=sys.stderr)
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("startup") / "flow.duckdb"
    Store.open(path).close()  # an empty store; no worker runs on it
    return path


@pytest.mark.parametrize(
    "args",
    [["--help"], ["sql", "--db", "{db}", "SELECT 1 AS one"], ["status", "--db", "{db}"]],
    ids=["help", "sql", "status"],
)
def test_command_does_not_import_faust_aiohttp_or_streamlit(store, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *(a.format(db=store) for a in args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == "loaded: -", done.stderr
    assert done.stdout  # it did its job: help text, the result, the report
