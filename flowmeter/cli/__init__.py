"""The `flowmeter` command: one click group (app.py), its commands in one module per job.

Importing a command module registers its commands on the group. The modules import what a
command needs inside the command, so `flowmeter --help` and `flowmeter sql --db FILE` start
without importing Faust (docs/architecture.md#start-up).
"""

from flowmeter.cli import ingest, processes, pull, read, store
from flowmeter.cli.app import cli, main

__all__ = ["cli", "ingest", "main", "processes", "pull", "read", "store"]
