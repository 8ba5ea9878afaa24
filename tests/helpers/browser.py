"""The dashboard in a real browser: the one place that starts `flowmeter up` for a browser,
launches headless Chromium through Playwright, waits for a page to render and screenshots it.

Used by tests/test_browser.py, tests/test_browser_filters.py, scripts/screenshots.py and
benchmarks/dashboard_render.py.
Chromium is Debian's `/usr/bin/chromium` (scripts/test.sh installs it); Playwright never
downloads a browser of its own. Every wait here polls against a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from dashboard.navigation import url_path
from streams.broker import free_port
from tests.helpers.waiting import poll, wait_until

if TYPE_CHECKING:  # Playwright is a test extra: imported only when a browser is launched
    from playwright.sync_api import Browser, Page, ViewportSize

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Nothing leaves the machine: the page icon Streamlit would fetch from fonts.gstatic.com
    # fails at once instead of waiting on DNS.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
MAX_SHOT_HEIGHT = 12_000  # px: a full-page screenshot of a runaway page stops here


class ChromiumMissing(RuntimeError):
    pass


# ---- flowmeter up ------------------------------------------------------------------------------
class Up:
    """`flowmeter up [--demo]` as a child process: a store in a directory of its own, every port
    one the OS picked, 127.0.0.1 only, no FLOWMETER_* settings inherited. stop() sends SIGINT,
    which is what Ctrl-C sends."""

    def __init__(self, db: Path, *, demo: bool, log_path: Path) -> None:
        self.db = Path(db)
        self.demo = demo
        self.log_path = Path(log_path)
        self.dashboard_port = free_port()
        self.process: subprocess.Popen | None = None
        self.worker_url: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def runtime(self) -> Path:
        """Where the worker announces itself while it runs (removed when it stops cleanly)."""
        return self.db.with_name(self.db.name + ".worker.json")

    def page_url(self, file: str) -> str:
        return f"{self.url}/{url_path(file)}"

    def start(self, timeout: float = 60) -> Up:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
        env.update(FLOWMETER_WEB_PORT=str(free_port()), FLOWMETER_RECEIVER_PORT=str(free_port()))
        argv = [
            sys.executable,
            "-m",
            "flowmeter",
            "up",
            "--db",
            str(self.db),
            "--dashboard-port",
            str(self.dashboard_port),
            *(["--demo"] if self.demo else []),
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                argv, cwd=self.db.parent, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        info = poll(self.announced, timeout, f"flowmeter up to start (log: {self.log_path})")
        self.worker_url = info["url"]
        return self

    def announced(self) -> dict[str, Any] | None:
        assert self.process is not None, "start() launched it"
        if self.process.poll() is not None:
            raise RuntimeError(
                f"flowmeter up exited with {self.process.returncode} while starting; "
                f"its log ends with:\n{self.log_tail()}"
            )
        if f"Dashboard: {self.url}" not in self.log_tail(40):  # printed once every part answers
            return None
        try:
            return json.loads(self.runtime.read_text())
        except (OSError, ValueError):
            return None

    def status(self) -> dict[str, dict[str, Any]]:
        """The worker's /api/status, per kind ({} while it cannot be read)."""
        try:
            kinds = requests.get(f"{self.worker_url}/api/status", timeout=5).json()["kinds"]
        except (requests.RequestException, ValueError, KeyError):
            return {}
        return {row["kind"]: row for row in kinds}

    def landed(self, kind: str = "transition") -> int:
        return self.status().get(kind, {}).get("landed", 0)

    def stop(self, timeout: float = 60) -> int | None:
        """SIGINT, then wait; if `up` does not stop in time, kill it and everything it started."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            family = descendants(self.process.pid)
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                for pid in [*descendants(self.process.pid), *family, self.process.pid]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.process.wait(10)
        return self.process.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# The demo first sends 14 days of history (several thousand transitions): a browser test waits for
# a good part of it, so the pages and the Board filter have something to show.
DEMO_HISTORY = 1_000


def wait_for_demo_history(up: Up) -> None:
    wait_until(lambda: up.landed() >= DEMO_HISTORY, 40, f"{DEMO_HISTORY:,} demo transitions to land")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children of `up` run in sessions of their own, so a process
    group does not cover them); read from /proc, empty where there is none."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # the field after the parenthesised command name: state, then ppid
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    for _ in range(len(parents)):  # bounded: each pass takes one process off the frontier
        if not frontier:
            break
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


# ---- Chromium ----------------------------------------------------------------------------------
def require_chromium() -> str:
    """The browser's path; ChromiumMissing, in one sentence, when it is not installed."""
    if not os.access(CHROMIUM, os.X_OK):
        raise ChromiumMissing(
            f"Chromium is not installed at {CHROMIUM}: install the Debian package `chromium` "
            "(bash scripts/test.sh does so when it runs as root)."
        )
    return CHROMIUM


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright; closed on the way out."""
    path = require_chromium()
    # start-up: Playwright loads only for the browser scenarios
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, args=list(LAUNCH_ARGS), headless=True, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


def watched_page(browser: Browser, errors: list[str]) -> Page:
    """A page in a fresh context at VIEWPORT; every uncaught JavaScript error goes into `errors`."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    return page


# ---- "the page has rendered" -------------------------------------------------------------------
# Real content: what a page draws once its data came back (a metric, a drawn chart, a table, a
# message such as "No events yet", the SQL page's schema list), as opposed to the title and
# widgets drawn before any query ran.
CONTENT = ", ".join(
    [
        "[data-testid=stMetricValue]",
        "[data-testid=stVegaLiteChart] svg",
        "[data-testid=stVegaLiteChart] canvas",
        "[data-testid=stPlotlyChart] svg",
        "[data-testid=stDataFrame] canvas",
        "[data-testid=stTable]",
        "[data-testid=stAlert]",
        "[data-testid=stExpander]",
    ]
)

# null until the page shows its title and real content (or an exception); then the moment, in
# ms since navigation start (performance.now()), any exception's text and the warnings and errors
# shown then (e.g. "the worker cannot be read": content, but not the page's data).
RENDERED_JS = """(title) => {
  const shown = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const live = (e) => !e.closest('[data-stale=true]');  // not left over from the page before
  const error = document.querySelector('[data-testid=stException]');
  if (error) return {ms: performance.now(), exception: error.innerText.slice(0, 2000), alerts: []};
  const main = document.querySelector('[data-testid=stMain]');
  if (!main) return null;
  const want = title.toLowerCase();
  const titled = Array.from(main.querySelectorAll('h1'))
    .some(h => live(h) && h.innerText.trim().toLowerCase().includes(want));
  if (!titled) return null;
  const content = Array.from(main.querySelectorAll(%s)).some(e => live(e) && shown(e));
  if (!content) return null;
  const alerts = Array.from(main.querySelectorAll(
    '[data-testid=stAlertContentWarning], [data-testid=stAlertContentError]')).filter(live);
  return {ms: performance.now(), exception: null, alerts: alerts.map(e => e.innerText.trim().slice(0, 300))};
}""" % json.dumps(CONTENT)  # noqa: UP031 - str.format or an f-string would need every JS brace doubled

# A signature of what the page shows, or null while something is still on its way: a chart or
# table not drawn yet, a loading skeleton, a stale element, the app's "running" indicator.
SETTLED_JS = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  if (!main) return null;
  // Streamlit draws a table only once it is in view (and never inside a closed expander).
  const inView = (e) => { const r = e.getBoundingClientRect();
    return e.checkVisibility() && r.height > 0 && r.bottom > 0 && r.top < window.innerHeight; };
  for (const chart of main.querySelectorAll('[data-testid=stVegaLiteChart]'))
    if (inView(chart) && !chart.querySelector('svg, canvas')) return null;
  for (const table of main.querySelectorAll('[data-testid=stDataFrame]'))
    if (inView(table) && !table.querySelector('canvas')) return null;
  if (document.querySelector('[data-testid=stSkeleton], [data-stale=true], [data-testid=stStatusWidgetRunningIcon]'))
    return null;
  return main.querySelectorAll('*').length + ':' + main.scrollHeight;
}"""


@dataclass(frozen=True)
class Rendered:
    ms: float  # since navigation start
    exception: str | None  # the text of a Streamlit exception box, if the page showed one
    alerts: tuple[str, ...] = ()  # the texts of st.warning / st.error boxes shown at that moment


def wait_rendered(page: Page, title: str, timeout: float = 30) -> Rendered:
    """Wait (checking every animation frame) until the page shows `title` and real content, or an
    exception. TimeoutError, with what the page does show, when `timeout` s pass first."""
    # start-up: Playwright loads only for the browser scenarios
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        value = page.wait_for_function(RENDERED_JS, arg=title, polling="raf", timeout=timeout * 1000).json_value()
    except PlaywrightTimeout:
        shown = page.evaluate("() => (document.querySelector('[data-testid=stMain]') || document.body).innerText")
        raise TimeoutError(
            f"{page.url} did not render {title!r} with content within {timeout:.0f} s; it shows: {shown[:500]!r}"
        ) from None
    return Rendered(value["ms"], value["exception"], tuple(value["alerts"]))


def wait_settled(page: Page, timeout: float = 10, calm: int = 2, interval: float = 0.2) -> bool:
    """Wait until everything on the page is drawn and nothing changed for `calm` checks in a row;
    False if `timeout` s pass first (live refresh may keep a page busy; the caller decides)."""
    deadline = time.monotonic() + timeout
    last, same = None, 0
    for _ in range(int(timeout / interval) + 1):  # bounded: one check per interval
        signature = page.evaluate(SETTLED_JS)
        same = same + 1 if signature is not None and signature == last else 0
        if same >= calm:
            return True
        last = signature
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    return False


def screenshot(page: Page, path: Path, *, full_page: bool) -> Path:
    """A PNG of the page. Streamlit scrolls inside its main pane, not the document, so for the
    whole page the viewport is made as tall as the pane's content for the shot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not full_page:
        page.screenshot(path=str(path))
        return path
    size = page.viewport_size or VIEWPORT
    height = page.evaluate(
        "() => Math.max(document.documentElement.scrollHeight, "
        "...Array.from(document.querySelectorAll('[data-testid=stMain], "
        "[data-testid=stSidebarContent]'), e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(int(height), size["height"]), MAX_SHOT_HEIGHT)})
    try:
        wait_settled(page, timeout=5)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path


def page_name(file: str) -> str:
    """A page's short name for files: 'cycle_time.py' -> 'cycle_time'."""
    return Path(file).stem
