"""The `flowmeter` command group and what its commands share: options, logging, progress, errors.

Each command lives in a module of this package by what it does (processes, ingest, read,
store); `--help` is the reference, and docs/cli.md is generated from it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowcore import __version__
from flowcore.errors import BrokerError, FlowmeterError
from flowcore.runtime import read_runtime
from flowcore.settings import Settings, load_settings
from flowcore.workflow_file import load_workflow

if TYPE_CHECKING:
    from rich.progress import Progress

log = logging.getLogger("flowmeter")


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
    func = click.option(
        "--settings",
        type=click.Path(dir_okay=False, path_type=Path),
        help="TOML settings file [env FLOWMETER_SETTINGS; default ./flowmeter.toml if present].",
    )(func)
    func = click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        help="DuckDB file [env FLOWMETER_DB; default ./flowmeter.duckdb].",
    )(func)
    func = click.option(
        "--broker",
        metavar="URL",
        help="Kafka bootstrap, e.g. kafka://host:9092 [env FLOWMETER_BROKER; default: the embedded broker].",
    )(func)
    return func


def command_settings(**overrides: Any) -> Settings:
    """The settings a command runs with (load_settings), its settings file's workflow checked
    too: a bad [boards] table is one sentence from any command, not only from the worker."""
    conf = load_settings(**overrides)
    load_workflow(conf.settings)
    return conf


def setup_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)


def running_broker(settings: Settings) -> str:
    """--broker / FLOWMETER_BROKER, else the broker of the worker running on this store."""
    if settings.broker:
        return settings.broker
    info = read_runtime(settings)
    if info:
        return info["broker"]
    raise BrokerError(
        f"no broker given and no worker is running on {settings.db}; start one with "
        "`flowmeter up`, or pass --broker kafka://host:port."
    )


class progress:  # lower case: used like a function, `with progress(total, label) as advance:`
    """A rich progress bar over bytes when stderr is a terminal; silent otherwise."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label = total, label
        self._bar: Progress | None = None

    def __enter__(self) -> Callable[[int], None]:
        if not sys.stderr.isatty():
            return lambda _n: None
        # start-up: rich loads only when a bar is drawn
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        bar = self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        bar.start()
        task = bar.add_task(self.label, total=self.total)
        return lambda n: bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self._bar:
            self._bar.stop()


def main() -> None:
    cli(prog_name="flowmeter")
