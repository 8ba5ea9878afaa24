"""Commands that read the store, through the running worker or from the file: status, alerts, sql, schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from flowmeter.cli.app import cli, command_settings, common_options, setup_logging
from flowmeter.cli.stores import reading_store


@cli.command()
@common_options
def status(broker: str | None, db: Path | None, settings: Path | None) -> None:
    """Show what became of every input event: landed, duplicates, dead-lettered, per kind."""
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from analytics import client

    conf = reading_store(command_settings(broker=broker, db=db, settings=settings))
    report = client.fetch_status(conf)
    click.echo(f"{'kind':<11} {'received':>10} {'landed':>10} {'duplicates':>10} {'dead':>8}  last event (UTC)")
    for row in report["kinds"]:
        click.echo(
            f"{row['kind']:<11} {row['received']:>10,} {row['landed']:>10,} {row['duplicates']:>10,} "
            f"{row['dead_lettered']:>8,}  {row['last_event_at'] or '-'}"
        )
    resets = report.get("log_resets") or {}
    if resets.get("count"):
        worker = report.get("worker") or {}
        lost = f"; {resets['lost_offsets']:,} offsets aged out before they landed" if resets["lost_offsets"] else ""
        this_run = (
            (f"; {worker['landed_after_reset']:,} events landed in this run that a stale position would have skipped")
            if worker.get("landed_after_reset")
            else ""
        )
        click.echo(
            f"log resets: {resets['count']:,} (the broker's log was replaced, truncated or aged out under a "
            f"stored position; see the log_resets table and docs/recovery.md){lost}{this_run}"
        )
    click.echo(f"source: {report['source']}")


# ---- alerts -------------------------------------------------------------------
# The alert_list view (analytics/sql/views/72_alert_list.sql), filtered by bound parameters.
# csv and json keep the numbers and their unit; the table says them in words: whole tickets
# ("22 tickets", never "22.0"), ages by the dashboard's rule ("1.5 d", "7.2 h").
ALERTS_COLUMNS = {
    "table": 'level, board, "limit", ticket, seen, against, status, since_utc, notices, alert_id',
    "data": 'level, board, "limit", ticket, value, threshold, unit, status, since_utc, notices, alert_id',
}
ALERTS_SQL = """
SELECT {columns}
FROM alert_list
WHERE ($all OR status <> 'resolved') AND ($kind IS NULL OR kind = $kind)
ORDER BY started_at DESC
"""


@cli.command()
@common_options
@click.option("--all", "show_all", is_flag=True, help="Every episode, resolved ones too, newest first.")
@click.option("--kind", type=click.Choice(["wip", "aging"]), help="Only WIP-limit or only aging alerts.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def alerts(
    broker: str | None, db: Path | None, settings: Path | None, show_all: bool, kind: str | None, fmt: str
) -> None:
    """List open alerts: WIP limits in breach or at their warning level, and aging tickets.

    Reads the alert_list view (the episodes not resolved; every one with --all) through the
    running worker, else from the file. The notices column says how delivery to the routes went
    ("re-sent": attempts that may have reached a receiver twice; it deduplicates on the notice
    id); the Alerts page of the dashboard shows the tickets of each alert. The table says what was
    seen against what was crossed in words: whole tickets, or ages in days (hours below a day);
    csv and json give the numbers (value, threshold) and their unit.
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from analytics import client
    from flowmeter import render

    setup_logging("warning")
    conf = reading_store(command_settings(broker=broker, db=db, settings=settings))
    columns = ALERTS_COLUMNS["table" if fmt == "table" else "data"]
    table, _ = client.query(conf, ALERTS_SQL.format(columns=columns), {"all": show_all, "kind": kind})
    if table.num_rows == 0 and fmt == "table":
        click.echo(
            "No alerts."
            if show_all
            else "No open alerts: every WIP limit is kept and no ticket is aging past its state's percentile."
        )
        return
    render.write_result(table, fmt, None, sys.stdout)


# ---- sql / schema / snapshot -------------------------------------------------
@cli.command()
@common_options
@click.argument("statement", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "parquet"]),
    default="table",
    show_default=True,
    help="table: aligned text (doubles to 4 decimals, long values cut); csv; json: "
    "an array of row objects, times ISO-8601 UTC; parquet: needs --output.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the result to FILE instead of stdout.",
)
def sql(
    broker: str | None, db: Path | None, settings: Path | None, statement: str | None, fmt: str, output: Path | None
) -> None:
    """Run one read-only SQL statement on the store and print the result.

    Reads through the running worker (with FLOWMETER_QUERY_TOKEN when it needs one), else from
    the file, read-only. Only SELECT-like statements run, without file or network access, within
    query_timeout and query_max_rows (a note on stderr says when rows were cut).

    Without STATEMENT: an interactive `flowmeter>` prompt (history in ~/.flowmeter_history);
    statements end with ';', \\d lists tables and views, \\q or Ctrl-D quits. With stdin not a
    terminal, the statements are read from it; the exit code is 1 when any failed.

    \b
    Examples:
      flowmeter sql "SELECT state, wip FROM wip_now WHERE board = 'checkout'"
      flowmeter sql --format csv -o flow.csv "SELECT * FROM ticket_flow"
      flowmeter sql < queries.sql
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from analytics import client
    from flowmeter import render, sqlshell

    setup_logging("warning")
    conf = reading_store(command_settings(broker=broker, db=db, settings=settings))
    if fmt == "parquet" and output is None:
        raise click.UsageError("--format parquet writes a binary file; add --output FILE.")
    if statement is None:
        if output is not None or fmt == "parquet":
            raise click.UsageError("--output and --format parquet need a STATEMENT.")
        failures = sqlshell.interactive(conf, fmt, sys.stdin, sys.stdout, sys.stderr)
        sys.exit(1 if failures and not sys.stdin.isatty() else 0)
    table, truncated = client.query(conf, statement)
    render.write_result(table, fmt, output, sys.stdout)
    if truncated:
        click.echo(render.truncation_note(table), err=True)


@cli.command()
@common_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table: one block per table or view; json: a list of {name, kind, description, columns}.",
)
def schema(broker: str | None, db: Path | None, settings: Path | None, fmt: str) -> None:
    """List the tables and views you can query, with what each holds and its columns.

    Descriptions come from the SQL files (analytics/sql); columns from the store, through the
    running worker or the file. docs/metrics.md defines each one.
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from analytics import client
    from flowmeter import render

    setup_logging("warning")
    objects = client.schema(reading_store(command_settings(broker=broker, db=db, settings=settings)))
    click.echo(json.dumps(objects, indent=2) if fmt == "json" else render.render_schema(objects), nl=fmt == "json")
