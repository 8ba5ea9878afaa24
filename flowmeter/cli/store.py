"""Commands that write a store while no worker holds it, or copy it: remap, snapshot, restore."""

from __future__ import annotations

import time
from pathlib import Path

import click

from flowcore.errors import FlowmeterError, StoreError, StoreLocked
from flowcore.workflow_file import load_workflow
from flowmeter.cli.app import cli, command_settings, common_options, progress, setup_logging
from flowmeter.cli.stores import holder, reading_store


@cli.command()
@common_options
@click.option("--force", is_flag=True, help="Re-derive even when the mapping did not change.")
def remap(broker: str | None, db: Path | None, settings: Path | None, force: bool) -> None:
    """Re-derive every metric from the stored events with the settings file's workflow mapping.

    Nothing is re-ingested. A running worker holds the store: restart it instead, it re-derives on start.
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from analytics.store import Store

    setup_logging("warning")
    conf = command_settings(broker=broker, db=db, settings=settings)
    workflow = load_workflow(conf.settings)
    started = time.monotonic()
    try:
        with Store.open(conf.db) as store:
            count = store.sync_workflow(workflow, force=force)
    except StoreLocked:
        # Not the store's own advice, which is meant for `load` (send the events through the broker).
        raise StoreLocked(
            f"the store {conf.db} is in use by {holder(conf) or 'another process'}; a worker re-derives with "
            "the settings file's mapping when it starts, so restart it instead of running remap."
        ) from None
    if count is None:
        click.echo(f"the workflow mapping of {conf.db} is already current; nothing to re-derive (use --force).")
    else:
        click.echo(
            f"re-derived {count:,} tickets in {conf.db} with the mapping from "
            f"{conf.settings or 'the built-in defaults'} in {time.monotonic() - started:.1f} s."
        )


@cli.command()
@common_options
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--parquet",
    "parquet_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write views as Parquet files (one per view, VIEW.parquet) into DIR, all from the snapshot.",
)
@click.option("--views", metavar="A,B", help="The views (or tables) --parquet writes [default: every view].")
@click.option("--force", is_flag=True, help="Replace PATH and Parquet files that exist.")
def snapshot(
    broker: str | None,
    db: Path | None,
    settings: Path | None,
    path: Path,
    parquet_dir: Path | None,
    views: str | None,
    force: bool,
) -> None:
    """Write a consistent, standalone DuckDB copy of the store to PATH, while the worker keeps running.

    The copy has the same tables, macros and views, taken at one moment; open it with the DuckDB
    CLI, a notebook, or `flowmeter sql --db PATH`. Taken through the running worker (downloaded),
    else from the file.
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from analytics import snapshot_client

    setup_logging("warning")
    conf = reading_store(command_settings(broker=broker, db=db, settings=settings))
    names = [v.strip() for v in views.split(",") if v.strip()] if views else None
    done = snapshot_client.snapshot(conf, path, parquet_dir=parquet_dir, views=names, force=force, progress=progress)
    click.echo(done.summary())


@cli.command()
@common_options
@click.argument("snapshot_file", metavar="SNAPSHOT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(broker: str | None, db: Path | None, settings: Path | None, snapshot_file: Path) -> None:
    """Build a new store at --db from a snapshot (`flowmeter snapshot`), e.g. after the store was damaged.

    --db must not exist yet: move a damaged file aside first. Then start the worker with a fresh
    consumer group (FLOWMETER_GROUP_ID) so it re-reads the topics: the snapshot's stored offsets skip
    what it holds and the events after it land. docs/recovery.md walks through it.
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from analytics.store import Store

    setup_logging("warning")
    conf = command_settings(broker=broker, db=db, settings=settings)
    if conf.db.exists():
        raise StoreError(
            f"{conf.db} exists; move it aside first (e.g. to {conf.db.name}.damaged), then restore into the free path."
        )
    try:
        with Store.open(snapshot_file, read_only=True):
            pass  # a damaged or foreign file is refused here, before a new store is made
        with Store.open(conf.db) as store:
            copied = store.restore(snapshot_file)
    except FlowmeterError:
        conf.db.unlink(missing_ok=True)
        raise
    click.echo(
        f"restored {conf.db} from {snapshot_file}: {copied.get('transitions', 0):,} transitions, "
        f"{copied.get('deploys', 0):,} deploys, {copied.get('incidents', 0):,} incident events, "
        f"{copied.get('dead_letters', 0):,} dead letters. Start the "
        "worker with a fresh FLOWMETER_GROUP_ID to land what came after the snapshot."
    )
