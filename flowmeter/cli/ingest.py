"""Commands that bring events in from files: produce (to Kafka), load (straight into the store), import."""

from __future__ import annotations

import time
from datetime import UTC, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from flowcore.settings import bootstrap_servers
from flowcore.workflow_file import load_workflow
from flowmeter.cli.app import cli, command_settings, common_options, progress, running_broker, setup_logging


# ---- produce / load ----------------------------------------------------------
@cli.command()
@common_options
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def produce(broker: str | None, db: Path | None, settings: Path | None, file: Path) -> None:
    """Send a JSON Lines file of v1 events to Kafka, each to its topic (transitions, deploys or incidents).

    Each line is checked as the worker would: a bad one (not JSON, kind unknown, not v1, too big
    for a message) goes to the dead-letter topic with its line number and reason, and the rest go on.
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from sources.producer import EventProducer
    from sources.replay import produce_file

    setup_logging("warning")
    conf = command_settings(broker=broker, db=db, settings=settings)
    producer = EventProducer(conf, bootstrap_servers(running_broker(conf)))
    started = time.monotonic()
    with progress(file.stat().st_size, f"producing {file.name}") as advance:
        replay = produce_file(producer, file, advance)
        producer.flush()
    producer.close()
    s, seconds = producer.summary, time.monotonic() - started
    topics = ", ".join(f"{n:,} to {t}" for t, n in sorted(s.by_topic.items())) or "no events"
    click.echo(
        f"produced {s.sent:,} events from {file} in {seconds:.1f} s ({s.sent / max(seconds, 1e-9):,.0f}/s): "
        f"{topics}; {s.dead_lettered:,} lines dead-lettered ({replay.rejected:,} rejected, each with its "
        f"reason); {s.failed:,} failed."
    )
    _list_rejects(replay.first_rejects, replay.rejected)
    if s.failed:
        raise click.ClickException(
            f"{s.failed:,} events were not acknowledged by the broker; first error: "
            f"{s.first_failure}. Re-run the same file: duplicates are dropped by event_id."
        )


def _list_rejects(shown: list[str], total: int) -> None:
    for reason in shown:
        click.echo(f"  rejected {reason}")
    if total > len(shown):
        click.echo(
            f"  ... and {total - len(shown):,} more, each a dead letter with its reason "
            '(`flowmeter sql "SELECT src, reason FROM dead_letters"`).'
        )


@cli.command()
@common_options
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load(broker: str | None, db: Path | None, settings: Path | None, file: Path) -> None:
    """Land a JSON Lines file of v1 events straight into the DuckDB file (backfill, no worker running).

    A bad line (not JSON, not UTF-8, not v1, whatever it holds) becomes a dead letter in the store
    with its line number and reason, and the rest land. Refuses while a worker holds the file; use
    `flowmeter produce` then. Re-running a file changes nothing.
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from analytics.store import Store
    from streams.backfill import load_file

    setup_logging("warning")
    conf = command_settings(broker=broker, db=db, settings=settings)
    started = time.monotonic()
    with (
        Store.open(conf.db, workflow=load_workflow(conf.settings)) as store,
        progress(file.stat().st_size, f"loading {file.name}") as advance,
    ):
        summary = load_file(store, file, progress=advance, announce=lambda text: click.echo(text, err=True))
    r, seconds = summary.result, time.monotonic() - started
    total = r.landed + r.duplicates + r.dead_lettered
    click.echo(
        f"loaded {file} into {conf.db} in {seconds:.1f} s ({total / max(seconds, 1e-9):,.0f} events/s): "
        f"{r.landed:,} landed, {r.duplicates:,} duplicates, {r.dead_lettered:,} dead-lettered "
        f"(of {summary.transitions:,} transitions, {summary.deploys:,} deploys, {summary.incidents:,} incidents); "
        f"{summary.derived:,} tickets derived; {summary.rejected:,} lines rejected."
    )
    for where, reason in summary.first_rejects:
        click.echo(f"  dead letter at {where}: {reason}")
    if summary.rejected > len(summary.first_rejects):
        click.echo(
            f"  ... and {summary.rejected - len(summary.first_rejects):,} more, each a dead letter with its "
            'reason (`flowmeter sql "SELECT src, reason FROM dead_letters"`).'
        )


@cli.command("import")
@common_options
@click.argument("source", type=click.Choice(["jira", "github", "pagerduty", "csv", "jsonl"]))
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="csv: which column holds a v1 field, e.g. --map to_state=Status (repeatable).",
)
@click.option(
    "--timezone",
    "zone_name",
    metavar="ZONE",
    help="csv: the time zone of times written without an offset, e.g. Europe/Berlin [default: UTC]. "
    "Times with an offset or 'Z' keep theirs.",
)
def import_(
    broker: str | None,
    db: Path | None,
    settings: Path | None,
    source: str,
    files: tuple[Path, ...],
    mapping: tuple[str, ...],
    zone_name: str | None,
) -> None:
    """Backfill history: saved Jira search results (expand=changelog), GitHub issue timelines, a
    PagerDuty incidents list (GET /incidents), CSV or JSON Lines, streamed to Kafka as v1 events.
    Re-running an import changes nothing.

    Records that cannot be mapped are skipped, each counted and the first few shown with their
    reason; the exit code is 1 when a file gave no event at all.
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from sources.importer import import_files

    setup_logging("warning")
    conf = command_settings(broker=broker, db=db, settings=settings)
    columns = {}
    for item in mapping:
        field, sep, column = item.partition("=")
        if not sep or not field or not column:
            raise click.UsageError(f"--map '{item}' is not FIELD=COLUMN, e.g. --map to_state=Status.")
        columns[field.strip()] = column.strip()
    zone = _zone(zone_name, source)
    started = time.monotonic()
    total = sum(f.stat().st_size for f in files)
    with progress(total, f"importing {source}") as advance:
        summary = import_files(conf, running_broker(conf), source, list(files), columns, advance, zone)
    seconds = time.monotonic() - started
    click.echo(
        f"imported {summary.sent:,} events ({summary.transitions:,} transitions, {summary.deploys:,} deploys, "
        f"{summary.incidents:,} incidents) "
        f"from {len(files)} file(s) in {seconds:.1f} s ({summary.sent / max(seconds, 1e-9):,.0f}/s); "
        f"{summary.skipped:,} skipped; {summary.duplicates:,} duplicates within the files (sent once)."
    )
    for reason in summary.first_skips:
        click.echo(f"  skipped {reason}")
    if summary.empty_files:
        raise click.ClickException(
            f"nothing was imported from {', '.join(summary.empty_files)}: every record was skipped (reasons "
            "above); fix the file or the --map options and import it again, which doubles nothing."
        )
    if summary.failed:
        raise click.ClickException(
            f"{summary.failed:,} events were not acknowledged by the broker; first error: "
            f"{summary.first_failure}. Re-run the import: what landed is not doubled."
        )


def _zone(name: str | None, source: str) -> tzinfo:
    """The --timezone ZONE as a tzinfo (UTC when not given); a usage error in one sentence."""
    if name is None:
        return UTC
    if source != "csv":
        raise click.UsageError(f"--timezone applies to csv only; {source} times carry their own offset.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.UsageError(
            f"--timezone {name!r} is not a known time zone; use an IANA name such as Europe/Berlin or UTC."
        ) from None
