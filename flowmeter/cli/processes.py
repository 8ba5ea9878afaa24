"""Commands that run a process until stopped: worker, up, receive, demo, dashboard."""

from __future__ import annotations

import os
import signal
import sys
from importlib import resources
from pathlib import Path

import click

from flowcore.errors import StoreLocked
from flowcore.exposure import check_exposure
from flowcore.settings import bootstrap_servers
from flowmeter.cli.app import cli, command_settings, common_options, running_broker, setup_logging
from flowmeter.cli.stores import DEMO_DB, holder
from flowmeter.launch import dashboard_env, streamlit_argv


# ---- worker ------------------------------------------------------------------
@cli.command()
@common_options
@click.option("--web-host", help="Address of the worker's HTTP server [env FLOWMETER_WEB_HOST; default 127.0.0.1].")
@click.option(
    "--web-port",
    type=int,
    help="Port of the worker's HTTP server, 0 = any free one [env FLOWMETER_WEB_PORT; default 6066].",
)
def worker(
    broker: str | None, db: Path | None, settings: Path | None, web_host: str | None, web_port: int | None
) -> None:
    """Consume flow.transitions, flow.deploys and flow.incidents and land them in the DuckDB file (the one writer).

    With --broker it exits with code 75 when a batch cannot be written, so a supervisor restarts
    it. Without --broker it starts an embedded broker of its own and runs the worker beside it,
    starting the worker again whenever it exits 75, so the events the broker holds in memory are
    never stranded. Stops cleanly on Ctrl-C or SIGTERM.
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from flowmeter.supervisor import keep_worker_running
    from streams.broker import EmbeddedBroker
    from streams.worker import run_worker

    conf = command_settings(broker=broker, db=db, settings=settings, web_host=web_host, web_port=web_port)
    if conf.broker:
        run_worker(conf, conf.broker)
        return
    with EmbeddedBroker(log_path=conf.db.with_name(conf.db.name + ".logs") / "broker.log") as embedded:
        click.echo(f"embedded broker at {embedded.url}", err=True)
        argv = [
            sys.executable,
            "-m",
            "flowmeter",
            "worker",
            "--broker",
            embedded.url,
            "--db",
            str(conf.db),
            "--web-host",
            conf.web_host,
            "--web-port",
            str(conf.web_port),
        ]
        code = keep_worker_running(argv + (["--settings", str(conf.settings)] if conf.settings else []))
    sys.exit(code)


# ---- up ----------------------------------------------------------------------
@cli.command()
@common_options
@click.option("--demo", is_flag=True, help="Also generate realistic demo traffic (14 days of history, then live).")
@click.option("--dashboard-port", type=int, help="Dashboard port [env FLOWMETER_DASHBOARD_PORT; default 8501].")
@click.option(
    "--worker-port",
    type=int,
    help="Port of the worker's HTTP server [env FLOWMETER_WEB_PORT; default 6066, or any free one when taken].",
)
@click.option(
    "--receiver-port",
    type=int,
    help="Port of the webhook receiver [env FLOWMETER_RECEIVER_PORT; default 8088, or any free one when taken].",
)
@click.option(
    "--demo-speed",
    type=click.FloatRange(min=1.0, min_open=False),
    default=1.0,
    show_default=True,
    help="How fast live demo time runs: 1 = real time, 60 = an hour a minute (a preview; the pages then "
    "show a team far busier than a real one).",
)
@click.option("--demo-rate", hidden=True, type=float, help="Replaced by --demo-speed.")
def up(
    broker: str | None,
    db: Path | None,
    settings: Path | None,
    demo: bool,
    dashboard_port: int | None,
    worker_port: int | None,
    receiver_port: int | None,
    demo_speed: float,
    demo_rate: float | None,
) -> None:
    """Start the broker (embedded unless --broker), the worker, the webhook receiver, a sync per
    tracker the settings configure (jira_url and jira_jql: `flowmeter sync jira`; github_repos,
    gitlab_projects: `sync github`, `sync gitlab`), the dashboard
    and optionally demo traffic.

    A port given here must be free; one from the environment or the default is replaced by any
    free port when taken. Prints the dashboard's address; Ctrl-C stops every part cleanly.
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from flowmeter.supervisor import Supervisor

    if demo_rate is not None:
        raise click.UsageError("--demo-rate (events per second) is gone; --demo-speed 1 runs the demo in real time.")
    setup_logging()
    fresh_demo_store = demo and db is None and "FLOWMETER_DB" not in os.environ
    if fresh_demo_store:
        db = DEMO_DB  # demo data gets a store of its own: two runs' ticket ids would collide
    if demo and settings is None and "FLOWMETER_SETTINGS" not in os.environ and not Path("flowmeter.toml").exists():
        # The demo's boards with a few WIP limits, so alerts have something to show.
        settings = Path(str(resources.files("sources") / "demo.toml"))
        click.echo(f"demo settings {settings} (WIP limits for the demo boards; pass --settings to use yours)", err=True)
    conf = command_settings(
        broker=broker,
        db=db,
        settings=settings,
        dashboard_port=dashboard_port,
        web_port=worker_port,
        receiver_port=receiver_port,
    )
    given = {"web_port": worker_port, "receiver_port": receiver_port}
    supervisor = Supervisor(conf, demo=demo, demo_speed=demo_speed, fixed_ports={k for k, v in given.items() if v})
    supervisor.check_ports()  # before the demo store is recreated: a refused start must lose nothing
    if fresh_demo_store:
        who = holder(conf)
        if who is not None:
            raise StoreLocked(
                f"the demo store {conf.db} is in use by {who}: a demo is running. Stop it first (Ctrl-C where "
                "it runs), or pass --db to run another demo on a store of its own."
            )
        for stale in (conf.db, conf.db.with_name(conf.db.name + ".wal")):
            stale.unlink(missing_ok=True)
        click.echo(f"demo store {conf.db} (recreated each run; pass --db to keep one)", err=True)
    supervisor.run()


# ---- sources: webhooks and history ---------------------------------------------
@cli.command()
@common_options
@click.option("--host", help="Address to bind [env FLOWMETER_RECEIVER_HOST; default 127.0.0.1].")
@click.option("--port", type=int, help="Port [env FLOWMETER_RECEIVER_PORT; default 8088; 0 = any free one].")
def receive(broker: str | None, db: Path | None, settings: Path | None, host: str | None, port: int | None) -> None:
    """Receive webhooks (Jira, GitHub, GitLab, CDEvents, Alertmanager, PagerDuty, Opsgenie, v1 JSON)
    and produce them to Kafka as v1 events.

    Paths: /webhooks/{jira,github,gitlab,cdevents,alertmanager,pagerduty,opsgenie} and /events
    (docs/sources.md). Answers 2xx only after the broker acknowledged, 503 while it cannot;
    unmappable payloads go to the dead-letter topic.
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from sources.receiver import run_receiver

    setup_logging()
    conf = command_settings(broker=broker, db=db, settings=settings, receiver_host=host, receiver_port=port)
    secrets = (conf.events_secret, conf.github_secret, conf.jira_secret, conf.cdevents_secret)
    check_exposure(
        "webhook receiver",
        conf.receiver_host,
        any(s is not None for s in secrets),
        "a webhook secret (FLOWMETER_EVENTS_SECRET, FLOWMETER_GITHUB_SECRET, FLOWMETER_JIRA_SECRET or "
        "FLOWMETER_CDEVENTS_SECRET)",
        conf.allow_open_access,
    )
    click.echo(
        f"receiving on http://{conf.receiver_host}:{conf.receiver_port} "
        "(/webhooks/jira, /webhooks/github, /webhooks/cdevents, /events)",
        err=True,
    )
    run_receiver(conf, running_broker(conf))


# ---- demo / dashboard / status -----------------------------------------------
@cli.command()
@common_options
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="How fast live time runs: 1 = real time (a transition every few minutes), 60 = an hour a minute.",
)
@click.option("--rate", hidden=True, type=float, help="Replaced by --speed.")
@click.option("--history-days", type=int, default=14, show_default=True, help="Days of history sent first.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same traffic).")
@click.option("--max-events", type=int, help="Stop after this many events (default: run until stopped).")
@click.option(
    "--receiver-url",
    help="A running receiver (e.g. http://127.0.0.1:8088) to POST the demo's Alertmanager alerts to, "
    "with the alertmanager_token setting as Bearer token [default: none, they go to Kafka as v1 incident events].",
)
def demo(
    broker: str | None,
    db: Path | None,
    settings: Path | None,
    speed: float,
    rate: float | None,
    history_days: int,
    seed: int,
    max_events: int | None,
    receiver_url: str | None,
) -> None:
    """Produce realistic demo traffic: teams, boards, a bottleneck, deploys that fail and recover,
    incidents.

    First --history-days of history ending now, then live events in real time: 3 boards and 17
    people make about 400 transitions and 15 production deploys a day, and six services a few
    incidents a week each; those of auth and gateway are Alertmanager notifications, POSTed to
    --receiver-url (docs/sources.md).
    """
    # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
    from sources.demo import run_demo
    from sources.demo_delivery import DemoDelivery
    from sources.producer import EventProducer

    if rate is not None:
        raise click.UsageError("--rate (events per second) is gone; --speed 1 runs the demo in real time.")
    setup_logging()
    conf = command_settings(broker=broker, db=db, settings=settings)
    producer = EventProducer(conf, bootstrap_servers(running_broker(conf)))
    token = conf.alertmanager_token.get_secret_value() if conf.alertmanager_token else None
    delivery = DemoDelivery(producer.send_event, receiver_url, token)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        sent = run_demo(
            delivery,
            speed=speed,
            history_days=history_days,
            seed=seed,
            should_stop=lambda: bool(stopping),
            max_events=max_events,
        )
    except KeyboardInterrupt:
        sent = producer.summary.sent
    producer.flush()
    producer.close()
    delivery.close()
    posted = f"; {delivery.posted:,} Alertmanager notifications posted, {delivery.failed:,} not" if receiver_url else ""
    click.echo(f"demo sent {sent:,} events; {producer.summary.failed:,} failed{posted}.", err=True)


@cli.command()
@common_options
@click.option(
    "--worker-url", help="The worker's HTTP address [env FLOWMETER_WORKER_URL; default: the worker running on --db]."
)
@click.option("--host", help="Address the dashboard binds [env FLOWMETER_DASHBOARD_HOST; default 127.0.0.1].")
@click.option("--port", type=int, help="Dashboard port [env FLOWMETER_DASHBOARD_PORT; default 8501].")
def dashboard(
    broker: str | None,
    db: Path | None,
    settings: Path | None,
    worker_url: str | None,
    host: str | None,
    port: int | None,
) -> None:
    """Run the Streamlit dashboard (it reads through the worker's HTTP server).

    Beyond loopback it needs FLOWMETER_DASHBOARD_PASSWORD, which it asks for before showing
    anything (docs/security.md)."""
    conf = command_settings(
        broker=broker, db=db, settings=settings, dashboard_host=host, dashboard_port=port, worker_url=worker_url
    )
    check_exposure(
        "dashboard",
        conf.dashboard_host,
        conf.dashboard_password is not None,
        "FLOWMETER_DASHBOARD_PASSWORD",
        conf.allow_open_access,
    )
    os.execvpe(sys.executable, streamlit_argv(conf.dashboard_host, conf.dashboard_port), dashboard_env(conf))
