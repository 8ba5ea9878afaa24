"""Commands that pull from a tracker's REST API: `init` (suggest a flowmeter.toml) and `sync`.

Credentials come from the settings or the environment only (FLOWMETER_JIRA_EMAIL,
FLOWMETER_JIRA_TOKEN, FLOWMETER_GITHUB_TOKEN, FLOWMETER_GITLAB_TOKEN), never from the command line,
where they would sit in shell history and the process list. docs/sources.md#pull-flowmeter-sync
describes both commands.
"""

from __future__ import annotations

import sys
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowcore.errors import StoreLocked
from flowcore.settings import Settings, bootstrap_servers, load_settings
from flowmeter.cli.app import cli, command_settings, common_options, running_broker, setup_logging

if TYPE_CHECKING:
    from sources.pull.sync import PassSummary


def _connection(func: Any) -> Any:
    func = click.option("--jql", metavar="JQL", help="The issues to pull [setting jira_jql].")(func)
    func = click.option(
        "--url", metavar="URL", help="Jira base URL, e.g. https://your-site.atlassian.net [setting jira_url]."
    )(func)
    return func


@cli.group()
def init() -> None:
    """Write a flowmeter.toml suggested from a tracker: its boards, their states and categories."""


def _init_file(func: Any) -> Any:
    """`init`'s options for the file it writes: --out, --force, --settings (read from)."""
    func = click.option(
        "--settings", type=click.Path(dir_okay=False, path_type=Path), help="TOML settings file to read from."
    )(func)
    func = click.option("--force", is_flag=True, help="Overwrite --out when it exists.")(func)
    func = click.option(
        "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("flowmeter.toml"), show_default=True
    )(func)
    return func


@init.command("jira")
@_connection
@_init_file
def init_jira(url: str | None, jql: str | None, out: Path, force: bool, settings: Path | None) -> None:
    """Read the statuses the JQL selection's projects use, with their Jira categories, and write a
    commented flowmeter.toml: one board per project with a suggested backlog / queue / active / done
    mapping, and jira_url / jira_jql for `flowmeter sync jira`. Secrets are never written.
    """
    # start-up: imported when the command runs
    from sources.pull.jira import JiraSource
    from sources.pull.jira_setup import project_statuses, settings_text

    setup_logging("warning")
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; pass --force to overwrite it, or --out to write elsewhere.")
    # Settings without the workflow check: the file this command replaces may be the broken one.
    conf = load_settings(settings=settings)
    url, jql = _selection(conf, url, jql)
    source = JiraSource(conf, url, jql)
    try:
        boards = project_statuses(source)
    finally:
        source.client.close()
    text = settings_text(url, jql, boards)
    out.write_text(text)
    states = sum(len(s) for s in boards.values())
    click.echo(
        f"wrote {out}: {len(boards)} board(s) ({', '.join(boards) or 'none'}), {states} states with suggested "
        "categories; read it, adjust, then run `flowmeter sync jira`."
    )


@cli.group()
def sync() -> None:
    """Pull items and their histories from a tracker's REST API, incrementally (docs/sources.md)."""


@sync.command("jira")
@common_options
@_connection
@click.option("--once", is_flag=True, help="One pass, then exit (otherwise a pass every sync_interval seconds).")
def sync_jira(
    broker: str | None, db: Path | None, settings: Path | None, url: str | None, jql: str | None, once: bool
) -> None:
    """Pull the issues of a JQL selection, each with its whole changelog, as v1 transitions.

    Without --db they are produced to Kafka like the receiver's, and the running worker lands them;
    with --db FILE they land straight into that store with no worker running (like `load`). Each
    pass asks only for issues updated since the last complete one (a cursor per URL and JQL), so a
    pass stopped midway is simply run again: nothing lands twice. Credentials: FLOWMETER_JIRA_EMAIL
    and FLOWMETER_JIRA_TOKEN (Cloud), or FLOWMETER_JIRA_TOKEN alone (Data Center).
    """
    # start-up: imported when the command runs
    from sources.pull.jira import JiraSource

    setup_logging("warning")
    conf = command_settings(broker=broker, db=db, settings=settings)
    url, jql = _selection(conf, url, jql)
    source = JiraSource(conf, url, jql)
    _run_sync(source, conf, db is not None, "jira", once)


def _github(func: Any) -> Any:
    func = click.option(
        "--repo",
        "repos",
        metavar="OWNER/NAME",
        multiple=True,
        help="A repository to pull; repeat for more [setting github_repos].",
    )(func)
    func = click.option(
        "--url",
        metavar="URL",
        help="GitHub API URL; Enterprise Server: https://HOST/api/v3 [setting github_url, default the public API].",
    )(func)
    return func


@init.command("github")
@_github
@_init_file
def init_github(url: str | None, repos: tuple[str, ...], out: Path, force: bool, settings: Path | None) -> None:
    """Read each repository's labels and write a commented flowmeter.toml: one board per repository
    with Open (backlog), the labels that look like workflow steps (in progress, review, blocked, ...)
    as states with suggested categories, Closed (done); their github_label_states; and github_repos /
    github_url for `flowmeter sync github`. The token is never written.
    """
    # start-up: imported when the command runs
    from sources.pull.github import GitHubSource
    from sources.pull.github_setup import repository_labels, settings_text, workflow_labels

    setup_logging("warning")
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; pass --force to overwrite it, or --out to write elsewhere.")
    conf = load_settings(settings=settings)  # without the workflow check: the file it replaces may be broken
    url, chosen = _repos(conf, url, repos)
    source = GitHubSource(conf, url, chosen)
    try:
        boards = repository_labels(source)
    finally:
        source.client.close()
    out.write_text(settings_text(url, boards))
    states = sum(2 + len(workflow_labels(labels)) for labels in boards.values())  # Open, Closed and labels
    click.echo(
        f"wrote {out}: {len(boards)} board(s) ({', '.join(boards)}), {states} states with suggested categories; "
        "read it, adjust, then run `flowmeter sync github`."
    )


@sync.command("github")
@common_options
@_github
@click.option("--once", is_flag=True, help="One pass, then exit (otherwise a pass every sync_interval seconds).")
def sync_github(
    broker: str | None,
    db: Path | None,
    settings: Path | None,
    url: str | None,
    repos: tuple[str, ...],
    once: bool,
) -> None:
    """Pull the issues of the repositories with their timelines as v1 transitions, and their
    deployments' statuses as deploys; with the setting github_project (orgs/OWNER/projects/N),
    also the Status of that Projects (v2) board's items as of each pass (GraphQL; the token then
    needs Projects: read, classic read:project).

    Without --db they are produced to Kafka and the running worker lands them; with --db FILE they
    land straight into that store with no worker running (like `load`). Each pass asks only for
    issues updated since the last complete one (a cursor per API URL and set of repositories), so a
    pass stopped midway is simply run again: nothing lands twice. Credentials: FLOWMETER_GITHUB_TOKEN
    (fine-grained: Issues, Deployments and Metadata read; classic: repo).
    """
    # start-up: imported when the command runs
    from sources.pull.github import GitHubSource

    setup_logging("warning")
    conf = command_settings(broker=broker, db=db, settings=settings)
    url, chosen = _repos(conf, url, repos)
    source = GitHubSource(conf, url, chosen)
    _run_sync(source, conf, db is not None, "github", once)


def _repos(conf: Settings, url: str | None, repos: tuple[str, ...]) -> tuple[str, list[str]]:
    url, chosen = url or conf.github_url, list(repos) or conf.github_repos
    if not chosen:
        raise click.UsageError("no repository: pass --repo owner/name (repeatable) or set github_repos.")
    for repo in chosen:
        if len([p for p in repo.strip().strip("/").split("/") if p]) != 2:
            raise click.UsageError(f"--repo {repo!r} is not owner/name, e.g. --repo acme/api.")
    if not url.startswith(("https://", "http://")):
        raise click.UsageError(f"--url {url!r} is not an http(s) URL; use e.g. https://github.example.com/api/v3.")
    return url, chosen


def _selection(conf: Settings, url: str | None, jql: str | None) -> tuple[str, str]:
    url, jql = url or conf.jira_url, jql or conf.jira_jql
    if not url:
        raise click.UsageError("no Jira URL: pass --url https://your-site.atlassian.net or set jira_url.")
    if not jql or not jql.strip():
        raise click.UsageError('no selection: pass --jql "project = KEY" or set jira_jql.')
    if not url.startswith(("https://", "http://")):
        raise click.UsageError(f"--url {url!r} is not an http(s) URL; use e.g. https://your-site.atlassian.net.")
    return url, jql


class _output(AbstractContextManager):  # lower case: used like a function
    """(sink, cursors, where) of a sync: the store (--db) or Kafka with a cursor file beside the store."""

    def __init__(self, conf: Settings, direct: bool, origin: str) -> None:
        self.conf, self.direct, self.origin = conf, direct, origin
        self._close: Any = None

    def __enter__(self) -> tuple[Any, Any, str]:
        # start-up: imported when the command runs, so `flowmeter --help` and light commands skip it
        from sources.pull.sync import FileCursors, KafkaSink, StoreCursors, StoreSink

        if self.direct:
            # start-up: the store (DuckDB) loads only for --db
            from analytics.store import Store
            from flowcore.workflow_file import load_workflow

            try:
                store = Store.open(self.conf.db, workflow=load_workflow(self.conf.settings))
            except StoreLocked:
                raise click.ClickException(
                    f"the store {self.conf.db} is held by a running worker; run `flowmeter "
                    f"{self.origin.split()[0].replace(':', ' ')}` without "
                    "--db to send the events through it, or stop the worker first."
                ) from None
            self._close = store.close
            return StoreSink(store, self.origin), StoreCursors(store), str(self.conf.db)
        # start-up: kafka-python loads only without --db
        from sources.producer import EventProducer

        broker = running_broker(self.conf)
        producer = EventProducer(self.conf, bootstrap_servers(broker))
        self._close = producer.close
        cursors = FileCursors(self.conf.db.with_name(self.conf.db.name + ".sync.json"))
        return KafkaSink(producer), cursors, f"Kafka at {broker}"

    def __exit__(self, *exc: object) -> None:
        if self._close:
            self._close()


def _run_sync(source: Any, conf: Settings, direct: bool, name: str, once: bool) -> None:
    """Every sync's passes: into the store (--db) or through Kafka, the client closed at the end."""
    try:
        with _output(conf, direct=direct, origin=f"sync:{name} {source.url}") as (sink, cursors, where):
            _passes(source, sink, cursors, where, conf.sync_interval, once)
    finally:
        source.client.close()


def _passes(source: Any, sink: Any, cursors: Any, where: str, interval: float, once: bool) -> None:
    # start-up: imported when the command runs
    from sources.pull.client import ApiUnavailable
    from sources.pull.sync import run_pass

    first = True
    while True:
        try:
            with _bar(first and cursors.get(source.cursor_key) is None) as advance:
                summary = run_pass(source, sink, cursors, advance)
            _report(summary, source, where)
        except ApiUnavailable as exc:
            if once:
                raise
            click.echo(f"this pass failed and is retried in {interval:.0f} s: {exc}", err=True)
        first = False
        if once:
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            return


def _report(s: PassSummary, source: Any, where: str) -> None:
    if where.startswith("Kafka"):  # the worker tells landed from duplicate; here only acknowledged
        landed = f"{s.landed:,} acknowledged by the broker"
    else:
        landed = f"{s.landed:,} landed, {s.duplicates:,} duplicates, {s.dead_lettered:,} dead-lettered"
    since = f"changed since {s.since:%Y-%m-%d %H:%M} UTC less the overlap" if s.since else "all (first pass)"
    click.echo(
        f"synced {source.kind} {source.url} ({since}) into {where} in {s.seconds:.1f} s: {s.issues:,} issues, "
        f"{s.events:,} events ({s.events / max(s.seconds, 1e-9):,.0f}/s); {landed}; {s.skipped:,} issues skipped."
    )
    for reason in s.first_skips:
        click.echo(f"  skipped {reason}")


def _bar(show: bool) -> AbstractContextManager[Any]:
    """A progress bar (issues fetched, events produced, rate) on a terminal's first pass."""
    if not show or not sys.stderr.isatty():
        return nullcontext(lambda _issues, _events: None)
    return _Bar()


class _Bar(AbstractContextManager):
    def __enter__(self) -> Any:
        # start-up: rich loads only when a bar is drawn
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.completed:,.0f} issues fetched, {task.fields[events]:,} events"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            transient=True,
        )
        self.bar.start()
        self.started = time.monotonic()
        task = self.bar.add_task("sync", total=None, events=0, rate="")
        counts = [0, 0]

        def advance(issues: int, events: int) -> None:
            counts[0] += issues
            counts[1] += events
            rate = counts[0] / max(time.monotonic() - self.started, 1e-9)
            self.bar.update(task, completed=counts[0], events=counts[1], rate=f"{rate:,.0f} issues/s")

        return advance

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


# ---- GitLab ---------------------------------------------------------------------------------------
def _gitlab_connection(func: Any) -> Any:
    func = click.option(
        "--project",
        "projects",
        multiple=True,
        metavar="GROUP/NAME",
        help="A project to pull, as in its URL; repeat for more [setting gitlab_projects].",
    )(func)
    func = click.option(
        "--url", metavar="URL", help="GitLab base URL [setting gitlab_url, default https://gitlab.com]."
    )(func)
    return func


def _gitlab_selection(conf: Settings, url: str | None, projects: tuple[str, ...]) -> tuple[str, list[str]]:
    url = url or conf.gitlab_url
    chosen = [p for p in (list(projects) or conf.gitlab_projects) if p.strip()]
    if not chosen:
        raise click.UsageError("no project: pass --project group/name (repeatable) or set gitlab_projects.")
    if not url.startswith(("https://", "http://")):
        raise click.UsageError(f"--url {url!r} is not an http(s) URL; use e.g. https://gitlab.com.")
    return url, chosen


@init.command("gitlab")
@_gitlab_connection
@_init_file
def init_gitlab(url: str | None, projects: tuple[str, ...], out: Path, force: bool, settings: Path | None) -> None:
    """Read each project's issue board lists and labels and write a commented flowmeter.toml: one
    board per project (Open, the board lists in order, Closed) with a suggested backlog / queue /
    active / done mapping, gitlab_label_states, and gitlab_url / gitlab_projects for
    `flowmeter sync gitlab`. Secrets are never written.
    """
    # start-up: imported when the command runs
    from sources.pull.gitlab import GitLabSource
    from sources.pull.gitlab_setup import project_boards, settings_text

    setup_logging("warning")
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; pass --force to overwrite it, or --out to write elsewhere.")
    conf = load_settings(settings=settings)  # without the workflow check: the file replaced may be the broken one
    url, chosen = _gitlab_selection(conf, url, projects)
    source = GitLabSource(conf, url, chosen)
    try:
        boards = project_boards(source)
    finally:
        source.client.close()
    text = settings_text(url, boards)
    out.write_text(text)
    lists = sum(len(b.lists) for b in boards.values())
    click.echo(
        f"wrote {out}: {len(boards)} board(s) ({', '.join(boards)}), {lists} board lists as states with suggested "
        "categories; read it, adjust, then run `flowmeter sync gitlab`."
    )


@sync.command("gitlab")
@common_options
@_gitlab_connection
@click.option("--once", is_flag=True, help="One pass, then exit (otherwise a pass every sync_interval seconds).")
def sync_gitlab(
    broker: str | None,
    db: Path | None,
    settings: Path | None,
    url: str | None,
    projects: tuple[str, ...],
    once: bool,
) -> None:
    """Pull the projects' issues with their state and label events as v1 transitions, and their
    deployments as v1 deploys.

    Without --db they are produced to Kafka like the receiver's, and the running worker lands them;
    with --db FILE they land straight into that store with no worker running (like `load`). Each
    pass asks only for what was updated since the last complete one (a cursor per URL and set of
    projects), so a pass stopped midway is simply run again: nothing lands twice. Credentials:
    FLOWMETER_GITLAB_TOKEN, an access token with the read_api scope.
    """
    # start-up: imported when the command runs
    from sources.pull.gitlab import GitLabSource

    setup_logging("warning")
    conf = command_settings(broker=broker, db=db, settings=settings)
    url, chosen = _gitlab_selection(conf, url, projects)
    source = GitLabSource(conf, url, chosen)
    _run_sync(source, conf, db is not None, "gitlab", once)
