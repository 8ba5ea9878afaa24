"""The `flowmeter` command: one group, subcommands as verbs. `--help` is the reference."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowmeter import __version__
from flowmeter.errors import BrokerError, FlowmeterError
from flowmeter.exposure import check_exposure
from flowmeter.settings import Settings, bootstrap_servers, load_settings

if TYPE_CHECKING:
    from rich.progress import Progress

log = logging.getLogger("flowmeter")
DEMO_DB = "flowmeter-demo.duckdb"


class _Group(click.Group):
    """Turns a FlowmeterError into one sentence and its exit code (1, or 75 for a temporary
    failure such as a full disk), without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlowmeterError as exc:
            error = click.ClickException(str(exc))
            error.exit_code = exc.exit_code
            raise error from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="flowmeter")
def cli() -> None:
    """Live Lean-flow and DORA analytics: Kafka -> Faust worker -> DuckDB -> Streamlit.

    Start everything with the embedded broker and demo traffic: `flowmeter up --demo`.
    """


def common_options(func: Callable) -> Callable:
    func = click.option("--settings", type=click.Path(dir_okay=False, path_type=Path),
                        help="TOML settings file [env FLOWMETER_SETTINGS; default ./flowmeter.toml if present].")(func)
    func = click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
                        help="DuckDB file [env FLOWMETER_DB; default ./flowmeter.duckdb].")(func)
    func = click.option("--broker", metavar="URL",
                        help="Kafka bootstrap, e.g. kafka://host:9092 [env FLOWMETER_BROKER; "
                             "default: the embedded broker].")(func)
    return func


def _setup_logging(level: str = "info") -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("kafka").setLevel(logging.WARNING)


def running_broker(settings: Settings) -> str:
    """--broker / FLOWMETER_BROKER, else the broker of the worker running on this store."""
    if settings.broker:
        return settings.broker
    from streams.worker import read_runtime
    info = read_runtime(settings)
    if info:
        return info["broker"]
    raise BrokerError(f"no broker given and no worker is running on {settings.db}; start one with "
                      "`flowmeter up`, or pass --broker kafka://host:port.")


# ---- worker ------------------------------------------------------------------
@cli.command()
@common_options
@click.option("--web-host", help="Address of the worker's HTTP server [env FLOWMETER_WEB_HOST; default 127.0.0.1].")
@click.option("--web-port", type=int, help="Port of the worker's HTTP server, 0 = any free one "
                                           "[env FLOWMETER_WEB_PORT; default 6066].")
def worker(broker: str | None, db: Path | None, settings: Path | None,
           web_host: str | None, web_port: int | None) -> None:
    """Consume flow.transitions and flow.deploys and land them in the DuckDB file (the one writer).

    With --broker it exits with code 75 when a batch cannot be written, so a supervisor restarts
    it. Without --broker it starts an embedded broker of its own and runs the worker beside it,
    starting the worker again whenever it exits 75, so the events the broker holds in memory are
    never stranded. Stops cleanly on Ctrl-C or SIGTERM.
    """
    from flowmeter.broker import EmbeddedBroker
    from flowmeter.supervisor import keep_worker_running
    from streams.worker import run_worker

    conf = load_settings(broker=broker, db=db, settings=settings, web_host=web_host, web_port=web_port)
    if conf.broker:
        run_worker(conf, conf.broker)
        return
    with EmbeddedBroker(log_path=conf.db.with_name(conf.db.name + ".logs") / "broker.log") as embedded:
        click.echo(f"embedded broker at {embedded.url}", err=True)
        argv = [sys.executable, "-m", "flowmeter", "worker", "--broker", embedded.url, "--db", str(conf.db),
                "--web-host", conf.web_host, "--web-port", str(conf.web_port)]
        code = keep_worker_running(argv + (["--settings", str(conf.settings)] if conf.settings else []))
    sys.exit(code)


# ---- up ----------------------------------------------------------------------
@cli.command()
@common_options
@click.option("--demo", is_flag=True, help="Also generate realistic demo traffic (14 days of history, then live).")
@click.option("--dashboard-port", type=int, help="Dashboard port [env FLOWMETER_DASHBOARD_PORT; default 8501].")
@click.option("--demo-rate", type=float, default=5.0, show_default=True, help="Live demo events per second.")
def up(broker: str | None, db: Path | None, settings: Path | None, demo: bool,
       dashboard_port: int | None, demo_rate: float) -> None:
    """Start the broker (embedded unless --broker), the worker, the webhook receiver, the dashboard and
    optionally demo traffic.

    Prints the dashboard's address; Ctrl-C stops every part cleanly.
    """
    from flowmeter.supervisor import Supervisor

    _setup_logging()
    if demo and db is None and "FLOWMETER_DB" not in os.environ:
        # Demo data gets a store of its own, fresh each run: two runs' ticket ids would collide.
        db = Path(DEMO_DB)
        for stale in (db, db.with_name(db.name + ".wal")):
            stale.unlink(missing_ok=True)
        click.echo(f"demo store {db} (recreated each run; pass --db to keep one)", err=True)
    if demo and settings is None and "FLOWMETER_SETTINGS" not in os.environ and not Path("flowmeter.toml").exists():
        # The demo's boards with a few WIP limits, so alerts have something to show.
        settings = Path(str(resources.files("sources") / "demo.toml"))
        click.echo(f"demo settings {settings} (WIP limits for the demo boards; pass --settings to use yours)",
                   err=True)
    conf = load_settings(broker=broker, db=db, settings=settings, dashboard_port=dashboard_port)
    Supervisor(conf, demo=demo, demo_rate=demo_rate).run()


# ---- produce / load ----------------------------------------------------------
@cli.command()
@common_options
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def produce(broker: str | None, db: Path | None, settings: Path | None, file: Path) -> None:
    """Send a JSON Lines file of v1 events to Kafka, each to its topic (transitions or deploys).

    Each line is checked as the worker would: a bad one (not JSON, kind unknown, not v1, too big
    for a message) goes to the dead-letter topic with its line number and reason, and the rest go on.
    """
    from sources.producer import EventProducer
    from sources.replay import produce_file

    _setup_logging("warning")
    conf = load_settings(broker=broker, db=db, settings=settings)
    producer = EventProducer(conf, bootstrap_servers(running_broker(conf)))
    started = time.monotonic()
    with _progress(file.stat().st_size, f"producing {file.name}") as advance:
        replay = produce_file(producer, file, advance)
        producer.flush()
    producer.close()
    s, seconds = producer.summary, time.monotonic() - started
    topics = ", ".join(f"{n:,} to {t}" for t, n in sorted(s.by_topic.items())) or "no events"
    click.echo(f"produced {s.sent:,} events from {file} in {seconds:.1f} s ({s.sent / max(seconds, 1e-9):,.0f}/s): "
               f"{topics}; {s.dead_lettered:,} lines dead-lettered ({replay.rejected:,} rejected, each with its "
               f"reason); {s.failed:,} failed.")
    _list_rejects(replay.first_rejects, replay.rejected)
    if s.failed:
        raise click.ClickException(f"{s.failed:,} events were not acknowledged by the broker; first error: "
                                   f"{s.first_failure}. Re-run the same file: duplicates are dropped by event_id.")


def _list_rejects(shown: list[str], total: int) -> None:
    for reason in shown:
        click.echo(f"  rejected {reason}")
    if total > len(shown):
        click.echo(f"  ... and {total - len(shown):,} more, each a dead letter with its reason "
                   "(`flowmeter sql \"SELECT src, reason FROM dead_letters\"`).")


@cli.command()
@common_options
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load(broker: str | None, db: Path | None, settings: Path | None, file: Path) -> None:
    """Land a JSON Lines file of v1 events straight into the DuckDB file (backfill, no worker running).

    A bad line (not JSON, not UTF-8, not v1, whatever it holds) becomes a dead letter in the store
    with its line number and reason, and the rest land. Refuses while a worker holds the file; use
    `flowmeter produce` then. Re-running a file changes nothing.
    """
    from analytics.store import Store
    from streams.backfill import load_file

    _setup_logging("warning")
    conf = load_settings(broker=broker, db=db, settings=settings)
    started = time.monotonic()
    from flowmeter.workflow import load_workflow
    with Store.open(conf.db, workflow=load_workflow(conf.settings)) as store, \
            _progress(file.stat().st_size, f"loading {file.name}") as advance:
        summary = load_file(store, file, progress=advance, announce=lambda text: click.echo(text, err=True))
    r, seconds = summary.result, time.monotonic() - started
    total = r.landed + r.duplicates + r.dead_lettered
    click.echo(f"loaded {file} into {conf.db} in {seconds:.1f} s ({total / max(seconds, 1e-9):,.0f} events/s): "
               f"{r.landed:,} landed, {r.duplicates:,} duplicates, {r.dead_lettered:,} dead-lettered "
               f"(of {summary.transitions:,} transitions, {summary.deploys:,} deploys); "
               f"{summary.derived:,} tickets derived; {summary.rejected:,} lines rejected.")
    for where, reason in summary.first_rejects:
        click.echo(f"  dead letter at {where}: {reason}")
    if summary.rejected > len(summary.first_rejects):
        click.echo(f"  ... and {summary.rejected - len(summary.first_rejects):,} more, each a dead letter with its "
                   "reason (`flowmeter sql \"SELECT src, reason FROM dead_letters\"`).")


@cli.command()
@common_options
@click.option("--force", is_flag=True, help="Re-derive even when the mapping did not change.")
def remap(broker: str | None, db: Path | None, settings: Path | None, force: bool) -> None:
    """Re-derive every metric from the stored events with the settings file's workflow mapping.

    Nothing is re-ingested. A running worker holds the store: restart it instead, it re-derives on start.
    """
    from analytics.store import Store
    from flowmeter.errors import StoreLocked
    from flowmeter.workflow import load_workflow

    _setup_logging("warning")
    conf = load_settings(broker=broker, db=db, settings=settings)
    workflow = load_workflow(conf.settings)
    started = time.monotonic()
    try:
        with Store.open(conf.db) as store:
            count = store.sync_workflow(workflow, force=force)
    except StoreLocked as exc:
        raise StoreLocked(f"{exc} A running worker applies a changed mapping when it restarts.") from None
    if count is None:
        click.echo(f"the workflow mapping of {conf.db} is already current; nothing to re-derive (use --force).")
    else:
        click.echo(f"re-derived {count:,} tickets in {conf.db} with the mapping from "
                   f"{conf.settings or 'the built-in defaults'} in {time.monotonic() - started:.1f} s.")


# ---- sources: webhooks and history ---------------------------------------------
@cli.command()
@common_options
@click.option("--host", help="Address to bind [env FLOWMETER_RECEIVER_HOST; default 127.0.0.1].")
@click.option("--port", type=int, help="Port [env FLOWMETER_RECEIVER_PORT; default 8088; 0 = any free one].")
def receive(broker: str | None, db: Path | None, settings: Path | None, host: str | None, port: int | None) -> None:
    """Receive webhooks (Jira, GitHub, CDEvents, v1 JSON) and produce them to Kafka as v1 events.

    Paths: /webhooks/jira, /webhooks/github, /webhooks/cdevents, /events. Answers 2xx only after the
    broker acknowledged, 503 while it cannot; unmappable payloads go to the dead-letter topic.
    """
    from sources.receiver import run_receiver

    _setup_logging()
    conf = load_settings(broker=broker, db=db, settings=settings, receiver_host=host, receiver_port=port)
    secrets = (conf.events_secret, conf.github_secret, conf.jira_secret, conf.cdevents_secret)
    check_exposure("webhook receiver", conf.receiver_host, any(s is not None for s in secrets),
                   "a webhook secret (FLOWMETER_EVENTS_SECRET, FLOWMETER_GITHUB_SECRET, FLOWMETER_JIRA_SECRET or "
                   "FLOWMETER_CDEVENTS_SECRET)",
                   conf.allow_open_access)
    click.echo(f"receiving on http://{conf.receiver_host}:{conf.receiver_port} "
               "(/webhooks/jira, /webhooks/github, /webhooks/cdevents, /events)", err=True)
    run_receiver(conf, running_broker(conf))


@cli.command("import")
@common_options
@click.argument("source", type=click.Choice(["jira", "github", "csv", "jsonl"]))
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
              help="csv: which column holds a v1 field, e.g. --map to_state=Status (repeatable).")
def import_(broker: str | None, db: Path | None, settings: Path | None, source: str, files: tuple[Path, ...],
            mapping: tuple[str, ...]) -> None:
    """Backfill history: saved Jira search results (expand=changelog), GitHub issue timelines, CSV or
    JSON Lines, streamed to Kafka as v1 events. Re-running an import changes nothing.
    """
    from sources.importer import import_files

    _setup_logging("warning")
    conf = load_settings(broker=broker, db=db, settings=settings)
    columns = {}
    for item in mapping:
        field, sep, column = item.partition("=")
        if not sep or not field or not column:
            raise click.UsageError(f"--map '{item}' is not FIELD=COLUMN, e.g. --map to_state=Status.")
        columns[field.strip()] = column.strip()
    started = time.monotonic()
    total = sum(f.stat().st_size for f in files)
    with _progress(total, f"importing {source}") as advance:
        summary = import_files(conf, running_broker(conf), source, list(files), columns, advance)
    seconds = time.monotonic() - started
    click.echo(f"imported {summary.sent:,} events ({summary.transitions:,} transitions, {summary.deploys:,} deploys) "
               f"from {len(files)} file(s) in {seconds:.1f} s ({summary.sent / max(seconds, 1e-9):,.0f}/s); "
               f"{summary.skipped:,} skipped; {summary.duplicates:,} duplicates within the files (sent once).")
    for where, reason in summary.first_skips:
        click.echo(f"  skipped {where}: {reason}")
    if summary.failed:
        raise click.ClickException(f"{summary.failed:,} events were not acknowledged by the broker; first error: "
                                   f"{summary.first_failure}. Re-run the import: what landed is not doubled.")


# ---- demo / dashboard / status -----------------------------------------------
@cli.command()
@common_options
@click.option("--rate", type=float, default=5.0, show_default=True, help="Live events per second.")
@click.option("--history-days", type=int, default=14, show_default=True, help="Days of history sent first.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same traffic).")
@click.option("--max-events", type=int, help="Stop after this many events (default: run until stopped).")
def demo(broker: str | None, db: Path | None, settings: Path | None, rate: float, history_days: int,
         seed: int, max_events: int | None) -> None:
    """Produce realistic demo traffic: teams, boards, a growing bottleneck, deploys that fail and recover."""
    from sources.demo import run_demo
    from sources.producer import EventProducer

    _setup_logging()
    conf = load_settings(broker=broker, db=db, settings=settings)
    producer = EventProducer(conf, bootstrap_servers(running_broker(conf)))
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        sent = run_demo(producer.send_event, rate=rate, history_days=history_days, seed=seed,
                        should_stop=lambda: bool(stopping), max_events=max_events)
    except KeyboardInterrupt:
        sent = producer.summary.sent
    producer.flush()
    producer.close()
    click.echo(f"demo sent {sent:,} events; {producer.summary.failed:,} failed.", err=True)


@cli.command()
@common_options
@click.option("--worker-url",
              help="The worker's HTTP address [env FLOWMETER_WORKER_URL; default: the worker running on --db].")
@click.option("--host", help="Address the dashboard binds [env FLOWMETER_DASHBOARD_HOST; default 127.0.0.1].")
@click.option("--port", type=int, help="Dashboard port [env FLOWMETER_DASHBOARD_PORT; default 8501].")
def dashboard(broker: str | None, db: Path | None, settings: Path | None, worker_url: str | None,
              host: str | None, port: int | None) -> None:
    """Run the Streamlit dashboard (it reads through the worker's HTTP server).

    Beyond loopback it needs FLOWMETER_DASHBOARD_PASSWORD, which it asks for before showing
    anything (docs/security.md)."""
    conf = load_settings(broker=broker, db=db, settings=settings, dashboard_host=host, dashboard_port=port,
                         worker_url=worker_url)
    check_exposure("dashboard", conf.dashboard_host, conf.dashboard_password is not None,
                   "FLOWMETER_DASHBOARD_PASSWORD", conf.allow_open_access)
    os.execvpe(sys.executable, streamlit_argv(conf.dashboard_host, conf.dashboard_port), dashboard_env(conf))


def streamlit_argv(host: str, port: int) -> list[str]:
    script = str(resources.files("dashboard") / "app.py")
    return [sys.executable, "-m", "streamlit", "run", script, "--server.address", host,
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "viewer"]


def dashboard_env(conf: Settings) -> dict[str, str]:
    """The dashboard is another process: hand it the settings this command resolved."""
    env = dict(os.environ, FLOWMETER_DB=str(conf.db.resolve()))
    if conf.settings:
        env["FLOWMETER_SETTINGS"] = str(Path(conf.settings).resolve())
    if conf.worker_url:
        env["FLOWMETER_WORKER_URL"] = conf.worker_url
    return env


@cli.command()
@common_options
def status(broker: str | None, db: Path | None, settings: Path | None) -> None:
    """Show what became of every input event: landed, duplicates, dead-lettered, per kind."""
    from dashboard.client import fetch_status

    conf = load_settings(broker=broker, db=db, settings=settings)
    report = fetch_status(conf)
    click.echo(f"{'kind':<11} {'received':>10} {'landed':>10} {'duplicates':>10} {'dead':>8}  last event (UTC)")
    for row in report["kinds"]:
        click.echo(f"{row['kind']:<11} {row['received']:>10,} {row['landed']:>10,} {row['duplicates']:>10,} "
                   f"{row['dead_lettered']:>8,}  {row['last_event_at'] or '-'}")
    resets = report.get("log_resets") or {}
    if resets.get("count"):
        worker = report.get("worker") or {}
        lost = f"; {resets['lost_offsets']:,} offsets aged out before they landed" if resets["lost_offsets"] else ""
        this_run = (f"; {worker['landed_after_reset']:,} events landed in this run that a stale position would have "
                    "skipped") if worker.get("landed_after_reset") else ""
        click.echo(f"log resets: {resets['count']:,} (the broker's log was replaced, truncated or aged out under a "
                   f"stored position; see the log_resets table and docs/recovery.md){lost}{this_run}")
    click.echo(f"source: {report['source']}")


# ---- alerts -------------------------------------------------------------------
ALERTS_SQL = """
SELECT level, board, limit_name AS "limit", coalesce(ticket_id, '') AS ticket,
       CASE WHEN kind = 'aging' THEN round(value / 86400, 1) ELSE value END AS value,
       CASE WHEN kind = 'aging' THEN round(threshold / 86400, 1) ELSE threshold END AS threshold,
       CASE WHEN kind = 'aging' THEN 'days in state' ELSE 'tickets' END AS unit,
       status, strftime(started_at, '%Y-%m-%d %H:%M') AS since_utc,
       concat_ws(' ', CASE WHEN delivered > 0 THEN delivered || ' delivered' END,
                      CASE WHEN pending > 0 THEN pending || ' pending' END,
                      CASE WHEN undelivered > 0 THEN undelivered || ' undelivered' END,
                      CASE WHEN resends > 0 THEN '(' || resends || ' re-sent)' END) AS notices,
       alert_id
FROM {view} {where} ORDER BY started_at DESC
"""


@cli.command()
@common_options
@click.option("--all", "show_all", is_flag=True, help="Every episode, resolved ones too, newest first.")
@click.option("--kind", type=click.Choice(["wip", "aging"]), help="Only WIP-limit or only aging alerts.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def alerts(broker: str | None, db: Path | None, settings: Path | None, show_all: bool, kind: str | None,
           fmt: str) -> None:
    """List open alerts: WIP limits in breach or at their warning level, and aging tickets.

    Reads the open_alerts view (alert_log with --all) through the running worker, else from the
    file. The notices column says how delivery to the routes went ("re-sent": attempts that may
    have reached a receiver twice; it deduplicates on the notice id); the Alerts page of the
    dashboard shows the tickets of each alert.
    """
    from flowmeter import render, sqlclient

    _setup_logging("warning")
    conf = load_settings(broker=broker, db=db, settings=settings)
    where = f"WHERE kind = '{kind}'" if kind else ""
    table, _ = sqlclient.query(conf, ALERTS_SQL.format(view="alert_log" if show_all else "open_alerts", where=where))
    if table.num_rows == 0 and fmt == "table":
        click.echo("No alerts." if show_all else "No open alerts: every WIP limit is kept and no ticket is aging "
                                                   "past its state's percentile.")
        return
    render.write_result(table, fmt, None, sys.stdout)


# ---- sql / schema / snapshot -------------------------------------------------
@cli.command()
@common_options
@click.argument("statement", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]), default="table",
              show_default=True, help="table: aligned text (doubles to 4 decimals, long values cut); csv; json: "
                                      "an array of row objects, times ISO-8601 UTC; parquet: needs --output.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the result to FILE instead of stdout.")
def sql(broker: str | None, db: Path | None, settings: Path | None, statement: str | None, fmt: str,
        output: Path | None) -> None:
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
    from flowmeter import render, sqlclient, sqlshell

    _setup_logging("warning")
    conf = load_settings(broker=broker, db=db, settings=settings)
    if fmt == "parquet" and output is None:
        raise click.UsageError("--format parquet writes a binary file; add --output FILE.")
    if statement is None:
        if output is not None or fmt == "parquet":
            raise click.UsageError("--output and --format parquet need a STATEMENT.")
        failures = sqlshell.interactive(conf, fmt, sys.stdin, sys.stdout, sys.stderr)
        sys.exit(1 if failures and not sys.stdin.isatty() else 0)
    table, truncated = sqlclient.query(conf, statement)
    render.write_result(table, fmt, output, sys.stdout)
    if truncated:
        click.echo(render.truncation_note(table), err=True)


@cli.command()
@common_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: one block per table or view; json: a list of {name, kind, description, columns}.")
def schema(broker: str | None, db: Path | None, settings: Path | None, fmt: str) -> None:
    """List the tables and views you can query, with what each holds and its columns.

    Descriptions come from the SQL files (analytics/sql); columns from the store, through the
    running worker or the file. docs/metrics.md defines each one.
    """
    import json

    from flowmeter import render, sqlclient

    _setup_logging("warning")
    objects = sqlclient.schema(load_settings(broker=broker, db=db, settings=settings))
    click.echo(json.dumps(objects, indent=2) if fmt == "json" else render.render_schema(objects), nl=fmt == "json")


@cli.command()
@common_options
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--parquet", "parquet_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Also write views as Parquet files (one per view, VIEW.parquet) into DIR, all from the snapshot.")
@click.option("--views", metavar="A,B", help="The views (or tables) --parquet writes [default: every view].")
@click.option("--force", is_flag=True, help="Replace PATH and Parquet files that exist.")
def snapshot(broker: str | None, db: Path | None, settings: Path | None, path: Path, parquet_dir: Path | None,
             views: str | None, force: bool) -> None:
    """Write a consistent, standalone DuckDB copy of the store to PATH, while the worker keeps running.

    The copy has the same tables, macros and views, taken at one moment; open it with the DuckDB
    CLI, a notebook, or `flowmeter sql --db PATH`. Taken through the running worker (downloaded),
    else from the file.
    """
    from flowmeter import snapshot_client

    _setup_logging("warning")
    conf = load_settings(broker=broker, db=db, settings=settings)
    names = [v.strip() for v in views.split(",") if v.strip()] if views else None
    done = snapshot_client.snapshot(conf, path, parquet_dir=parquet_dir, views=names, force=force, progress=_progress)
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
    from analytics.store import Store
    from flowmeter.errors import StoreError

    _setup_logging("warning")
    conf = load_settings(broker=broker, db=db, settings=settings)
    if conf.db.exists():
        raise StoreError(f"{conf.db} exists; move it aside first (e.g. to {conf.db.name}.damaged), "
                         "then restore into the free path.")
    try:
        with Store.open(snapshot_file, read_only=True):
            pass  # a damaged or foreign file is refused here, before a new store is made
        with Store.open(conf.db) as store:
            copied = store.restore(snapshot_file)
    except FlowmeterError:
        conf.db.unlink(missing_ok=True)
        raise
    click.echo(f"restored {conf.db} from {snapshot_file}: {copied.get('transitions', 0):,} transitions, "
               f"{copied.get('deploys', 0):,} deploys, {copied.get('dead_letters', 0):,} dead letters. Start the "
               "worker with a fresh FLOWMETER_GROUP_ID to land what came after the snapshot.")


class _progress:
    """A rich progress bar over bytes when stderr is a terminal; silent otherwise."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label = total, label
        self._bar: Progress | None = None

    def __enter__(self) -> Callable[[int], None]:
        if not sys.stderr.isatty():
            return lambda _n: None
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
        bar = self._bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                                   TimeRemainingColumn(), transient=True)
        bar.start()
        task = bar.add_task(self.label, total=self.total)
        return lambda n: bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self._bar:
            self._bar.stop()


def main() -> None:
    cli(prog_name="flowmeter")
