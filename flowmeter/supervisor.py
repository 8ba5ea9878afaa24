"""`flowmeter up`: start the parts in order, keep them running, stop them in reverse order.

Children run in sessions of their own, so Ctrl-C reaches only this process, which
then stops the demo, the dashboard, the worker (letting it finish its batch) and
the broker, in that order. A worker that exits with an error is restarted: it
resumes from the offsets stored in DuckDB, so a restart loses nothing.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from flowcore.errors import EX_TEMPFAIL, FlowmeterError, SettingsError
from flowcore.settings import Settings, bootstrap_servers
from flowmeter.launch import dashboard_env, streamlit_argv
from streams.broker import EmbeddedBroker, die_with_parent, free_port
from streams.topics import ensure_topics

log = logging.getLogger(__name__)

MAX_RESTARTS = 5  # within RESTART_WINDOW seconds, then give up and stop everything
RESTART_WINDOW = 300.0


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    restart: bool = False
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float) -> None:
        process = self.process
        if process is None or process.poll() is not None:  # not running()
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", self.name, grace)
            process.kill()
            process.wait(5)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        *,
        demo: bool,
        demo_speed: float = 1.0,
        fixed_ports: set[str] | frozenset = frozenset(),
    ) -> None:
        self.settings = settings
        self.demo = demo
        self.demo_speed = demo_speed
        # Ports named on the command line ("web_port", "receiver_port"): those or none. The
        # others fall back to any free port when taken; the dashboard's is always fixed, as
        # its address is the one a person opens.
        self.fixed_ports = fixed_ports
        self.logs = settings.db.with_name(settings.db.name + ".logs")
        self.broker: EmbeddedBroker | None = None
        self.children: list[Child] = []
        self._stopping = False

    def run(self) -> None:
        # Both set explicitly: a shell's background job inherits SIGINT as ignored, and
        # Python then installs no KeyboardInterrupt handler of its own.
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            self._start_all()
            self._watch()
        except KeyboardInterrupt:
            print("\nstopping flowmeter ...", file=sys.stderr, flush=True)
        finally:
            self._stop_all()

    def _on_signal(self, *_: object) -> None:
        if not self._stopping:  # a second Ctrl-C must not interrupt the orderly stop
            self._stopping = True
            raise KeyboardInterrupt

    # ---- start -----------------------------------------------------------------
    def check_ports(self) -> None:
        """Refuse in one sentence when a port that must be this one is taken."""
        conf = self.settings
        _check_port_free(conf.dashboard_port, "dashboard", "--dashboard-port")
        if "web_port" in self.fixed_ports and conf.web_port:
            _check_port_free(conf.web_port, "worker", "--worker-port")
        if "receiver_port" in self.fixed_ports and conf.receiver_port:
            _check_port_free(conf.receiver_port, "receiver", "--receiver-port")

    def _start_all(self) -> None:
        conf = self.settings
        self.check_ports()
        broker = conf.broker
        if not broker:
            self.broker = EmbeddedBroker(log_path=self.logs / "broker.log").start()
            broker = self.broker.url
            print(f"broker     {broker} (embedded Tansu; its log is in memory)", file=sys.stderr)
        ensure_topics(bootstrap_servers(broker), [*conf.input_topics, conf.dead_letter_topic], conf.partitions)

        web_port = conf.web_port if conf.web_port and _port_free(conf.web_port) else free_port()
        worker_url = f"http://127.0.0.1:{web_port}"
        base = [sys.executable, "-m", "flowmeter"]
        where = ["--db", str(conf.db)] + (["--settings", str(conf.settings)] if conf.settings else [])
        worker = Child(
            "worker",
            base + ["worker", "--broker", broker, "--web-port", str(web_port)] + where,
            self.logs / "worker.log",
            restart=True,
        )
        self._launch(worker)
        self._wait_http(worker, f"{worker_url}/api/status", timeout=60)
        print(f"worker     {worker_url}/api/status  (store {conf.db})", file=sys.stderr)

        receiver_port = conf.receiver_port if conf.receiver_port and _port_free(conf.receiver_port) else free_port()
        receiver = Child(
            "receiver",
            base + ["receive", "--broker", broker, "--port", str(receiver_port)] + where,
            self.logs / "receiver.log",
            restart=True,
        )
        self._launch(receiver)
        self._wait_http(receiver, f"http://127.0.0.1:{receiver_port}/healthz", timeout=30)
        print(
            f"receiver   http://127.0.0.1:{receiver_port}/webhooks/"
            "{jira,github,gitlab,cdevents,alertmanager,pagerduty,opsgenie} and /events",
            file=sys.stderr,
        )

        for source, what in configured_syncs(conf):
            # Through Kafka like the receiver (the worker holds the store): FLOWMETER_DB, not --db, names
            # the store, so the sync's cursor file sits beside it. Not restarted: a refused token or URL
            # is one sentence in its log and a warning here, and never stops the rest of `up`; an
            # unreachable tracker is retried by the sync itself every sync_interval.
            settings_arg = ["--settings", str(conf.settings)] if conf.settings else []
            self._launch(
                Child(
                    f"sync-{source}",
                    base + ["sync", source, "--broker", broker] + settings_arg,
                    self.logs / f"sync-{source}.log",
                    env={**os.environ, "FLOWMETER_DB": str(conf.db)},
                )
            )
            print(f"sync       {source} {what}, every {conf.sync_interval:g} s", file=sys.stderr)

        dash_conf = conf.model_copy(update={"worker_url": worker_url})
        dashboard = Child(
            "dashboard",
            streamlit_argv("127.0.0.1", conf.dashboard_port),
            self.logs / "dashboard.log",
            env=dashboard_env(dash_conf),
            restart=True,
        )
        self._launch(dashboard)
        self._wait_http(dashboard, f"http://127.0.0.1:{conf.dashboard_port}/_stcore/health", timeout=60)

        if self.demo:
            self._launch(
                Child(
                    "demo",
                    base
                    + ["demo", "--broker", broker, "--speed", str(self.demo_speed)]
                    + ["--receiver-url", f"http://127.0.0.1:{receiver_port}"]
                    + where,
                    self.logs / "demo.log",
                )
            )
        print(
            f"\nflowmeter is up. Dashboard: http://127.0.0.1:{conf.dashboard_port}\n"
            f"logs in {self.logs}/ · Ctrl-C stops everything",
            file=sys.stderr,
            flush=True,
        )

    def _launch(self, child: Child) -> None:
        child.start()
        self.children.append(child)

    def _wait_http(self, child: Child, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.running():
                raise FlowmeterError(f"the {child.name} exited while starting; its log ends with:\n{child.tail()}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise FlowmeterError(f"the {child.name} did not answer at {url} within {timeout:.0f} s; see {child.log_path}.")

    # ---- keep running ------------------------------------------------------------
    def _watch(self) -> None:
        while True:
            for child in self.children:
                if child.running():
                    continue
                assert child.process is not None, "every child is started before it is watched"
                code = child.process.returncode
                if not child.restart:
                    if code != 0:
                        log.warning("%s exited with code %s; its log ends with:\n%s", child.name, code, child.tail())
                    self.children.remove(child)
                    break
                self.restart(child, code)
            if self.broker and self.broker.process and self.broker.process.poll() is not None:
                raise FlowmeterError("the embedded broker stopped unexpectedly; see " + str(self.broker.log_path))
            time.sleep(0.5)

    def restart(self, child: Child, code: int | None) -> None:
        """Start a child that exited with `code` again after a backoff, or raise FlowmeterError
        once it failed MAX_RESTARTS times within RESTART_WINDOW (never for the worker while the
        embedded broker runs). The watch loop calls it; tests/test_supervisor_policy.py too."""
        now = time.monotonic()
        child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW] + [now]
        if child.name == "worker" and self.broker is not None:
            # The embedded broker keeps its log in memory: giving up would stop it and lose every
            # event it holds that has not landed. So the worker is restarted for as long as we run.
            log.error(
                "the worker exited with code %s; restarting it (attempt %d in %.0f min). The embedded "
                "broker holds the events that have not landed: fix the cause (docs/recovery.md) rather "
                "than stopping. Log tail:\n%s",
                code,
                len(child.restarts),
                RESTART_WINDOW / 60,
                child.tail(5),
            )
            time.sleep(min(2 ** len(child.restarts), 30))
            child.start()
            return
        if len(child.restarts) > MAX_RESTARTS:
            raise FlowmeterError(
                f"the {child.name} failed {MAX_RESTARTS} times in {RESTART_WINDOW / 60:.0f} min; "
                f"stopping. Its log ends with:\n{child.tail()}"
            )
        log.warning(
            "%s exited with code %s; restarting it (%d of %d). Log tail:\n%s",
            child.name,
            code,
            len(child.restarts),
            MAX_RESTARTS,
            child.tail(5),
        )
        time.sleep(min(2 ** len(child.restarts), 30))
        child.start()

    # ---- stop ----------------------------------------------------------------------
    def _stop_all(self) -> None:
        # Reverse start order: no new events, no readers, then the writer, then the broker.
        for child in reversed(self.children):
            child.stop(grace=30 if child.name == "worker" else 10)
        if self.broker:
            self.broker.stop()
        print("flowmeter stopped.", file=sys.stderr, flush=True)


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `port` now. The probe sets SO_REUSEADDR as the servers
    we start do (aiohttp through asyncio, Tornado): connections of a stopped run linger in TIME_WAIT for
    about 60 s, which blocks a plain bind but not a server; a live listener still blocks both."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False


def _check_port_free(port: int, what: str, option: str) -> None:
    if not _port_free(port):
        raise SettingsError(f"port {port} for the {what} is in use on 127.0.0.1; pass {option} N to use another.")


def keep_worker_running(argv: list[str]) -> int:
    """`flowmeter worker` with an embedded broker: run the worker as a child and start it again
    whenever it exits 75 (EX_TEMPFAIL) or is killed, for as long as this process lives.

    This process holds the embedded broker, whose log is in memory: a worker that crashed
    leaves its unlanded events there, and the next worker lands them (it resumes from the
    offsets stored in DuckDB). Both the broker and the worker die with this process (Linux:
    PR_SET_PDEATHSIG), so nothing is left running when it ends. Returns the worker's exit code
    once it stops for another reason: 0 after SIGTERM or Ctrl-C, which are passed on to it.
    """
    stopping: list[int] = []
    current: list[subprocess.Popen] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)
        if current and current[-1].poll() is None:
            current[-1].send_signal(signal.SIGTERM if len(stopping) == 1 else signal.SIGKILL)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = 0
    for attempt in itertools.count(1):  # bounded by this process's life: a stop signal ends it
        # Its own session: Ctrl-C reaches only us, and we stop it in order (finish the batch).
        current.append(subprocess.Popen(argv, start_new_session=True, preexec_fn=die_with_parent(os.getpid())))
        code = current[-1].wait()
        # 75: it could not land a batch; negative: a signal killed it (a crash, the OOM killer).
        # Anything else (a bad setting: 1) would fail again the same way.
        if stopping or not (code == EX_TEMPFAIL or code < 0):
            return code
        delay = min(2**attempt, 30)
        log.error(
            "the worker exited with code %d; starting it again in %d s (start %d). The embedded broker "
            "keeps the events that have not landed until then.",
            code,
            delay,
            attempt + 1,
        )
        for _ in range(delay * 10):  # a stop signal ends the wait early
            if stopping:
                return code
            time.sleep(0.1)
    return code


def configured_syncs(conf: Settings) -> list[tuple[str, str]]:
    """The trackers `flowmeter up` pulls from beside the receiver: each one whose settings name both
    where and what (docs/sources.md#pull-flowmeter-sync), as (source, the selection in words)."""
    syncs = []
    if conf.jira_url and conf.jira_jql:
        syncs.append(("jira", f"{conf.jira_url} ({conf.jira_jql})"))
    if conf.github_repos:
        syncs.append(("github", f"{conf.github_url} ({', '.join(conf.github_repos)})"))
    if conf.gitlab_projects:
        syncs.append(("gitlab", f"{conf.gitlab_url} ({', '.join(conf.gitlab_projects)})"))
    return syncs
