"""Dashboard time to first render in Chromium, per page, on a store of about N transitions against
an empty store measured in the same run (the ratio is what the data size costs).

Builds the store with benchmarks.views' generator (about 9 transitions a ticket over 10 boards and
~95 days, moved in time to end now, since the dashboard's default range is the last 30 days) and
derives every metric once. For each store it runs `flowmeter up` without the demo: the embedded
broker, the worker on that store, the receiver and the dashboard. Then for every page in
dashboard.navigation.PAGES it opens the page in a fresh browser context (a new Streamlit session,
empty browser cache) and reads, in the page, performance.now() at two moments: first content (the
first animation frame that shows the page's title and a metric, drawn chart, table or message) and
the first complete render (COMPLETE_JS: every chart and table in view drawn, nothing loading, and
that shape held for CALM_MS), both from navigation start. The target (issue 15, item 17) is the
complete render within 1.5 s at 1,000,000 transitions on a quiet machine. One warm-up round, then
--repeats rounds; by default (--pace) every visit starts after the dashboard's query cache has
expired, so each one reads through the worker.
In the same run it also visits a bare Streamlit script (st.title and st.metric, nothing else) served
by the same Streamlit with the options flowmeter uses (flowmeter/launch.py): the floor Streamlit
itself sets, so the empty store's figure minus the bare one is what our app script costs (page set
up, sign-in, navigation, the sidebar and its filter lists, the page and its queries).
With --alongside PAGE another tab stays open on that page the whole time, refreshing live (every 3 s
by default), as a colleague's would: the figures then say whether a page opened waits on another
page's queries (issue 15, item 17).
The built store is kept under --cache for later runs the same day with the same schema and size.
Run: python -m benchmarks.dashboard_render --transitions 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from analytics.store import Store
from benchmarks.views import generate
from dashboard.navigation import PAGES
from flowcore.workflow import Workflow
from flowmeter.launch import streamlit_argv
from streams.broker import free_port
from tests.helpers.browser import VIEWPORT, ChromiumMissing, Up, chromium, require_chromium, wait_rendered
from tests.helpers.waiting import poll

TARGET_MS = 1500  # issue 15 item 17: each page's first complete render within 1.5 s at 1M transitions
TRANSITIONS_PER_TICKET = 9  # generate(): 4 in 5 tickets take all 10 steps, the others 5 on average
CALM_MS = 400  # a page counts as complete once its final shape has stood this long (see COMPLETE_JS)
QUERY_CACHE_TTL = 2.0  # seconds: st.cache_data(ttl=2) on the dashboard's queries (dashboard/reading.py)


def build_store(path: Path, transitions: int, deploys: int) -> dict[str, float]:
    """A store at `path` with about `transitions` transitions ending now, every metric derived, and
    the ingest counts a worker would have kept; its figures."""
    tickets = max(1, round(transitions / TRANSITIONS_PER_TICKET))
    workflow = Workflow()  # the worker's own mapping without a settings file: it re-derives nothing
    with Store.open(path, workflow=workflow) as store:
        con = store.cursor()
        started = time.perf_counter()
        generate(store, tickets, deploys)
        # Move everything so the latest transition happened an hour ago, keeping all gaps.
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        latest = con.execute("SELECT max(occurred_at) FROM transitions").fetchall()[0][0]
        shift = f"to_seconds({int((now - latest).total_seconds()) - 3600})"
        con.execute(
            f"UPDATE transitions SET occurred_at = occurred_at + {shift}, "
            f"landed_at = occurred_at + {shift} + INTERVAL 1 MINUTE"
        )
        con.execute(
            f"UPDATE deploys SET finished_at = finished_at + {shift}, "
            f"landed_at = finished_at + {shift} + INTERVAL 1 MINUTE, "
            f"started_at = started_at + {shift}, "
            f"commits = list_transform(commits, lambda c: struct_pack(sha := c.sha, "
            f"committed_at := c.committed_at + {shift}))"
        )
        counts = {
            kind: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            for kind, table in (("transition", "transitions"), ("deploy", "deploys"))
        }
        for kind, landed in counts.items():
            con.execute("INSERT INTO ingest_counts VALUES ('benchmark', ?, ?, 0, 0, ?)", [kind, landed, now])
        generated = time.perf_counter() - started
        started = time.perf_counter()
        store.sync_workflow(workflow, force=True)
        derived = time.perf_counter() - started
    return {
        "transitions": counts["transition"],
        "deploys": counts["deploy"],
        "tickets": tickets,
        "generated": generated,
        "derived": derived,
        "mib": path.stat().st_size / 2**20,
    }


# The page's first complete render: the title, no exception, every chart and table in view drawn,
# no loading skeleton, nothing stale, the app not running, and the page's shape then unchanged for
# CALM_MS (Streamlit shows its "running" icon only after a moment, so a page between two queries
# can look finished for a few frames). Returns the time that final shape first appeared. The shape
# leaves out what is inside a <canvas>: fallback content the browser never paints. A table draws on
# its canvas, then its grid puts an accessibility copy of the visible cells inside the canvas about
# 0.3 s later; counting that copy timed a change nobody can see.
COMPLETE_JS = """([title, calm]) => {
  const main = document.querySelector('[data-testid=stMain]');
  if (!main) return null;
  const state = window.__fmComplete || (window.__fmComplete = {sig: null, since: 0});
  const inView = (e) => { const r = e.getBoundingClientRect();
    return e.checkVisibility() && r.height > 0 && r.bottom > 0 && r.top < window.innerHeight; };
  let sig = null;
  const titled = Array.from(main.querySelectorAll('h1')).some(h => h.innerText.toLowerCase().includes(title));
  const busy = document.querySelector(
    '[data-testid=stSkeleton], [data-stale=true], [data-testid=stStatusWidgetRunningIcon]');
  const undrawn = Array.from(main.querySelectorAll('[data-testid=stVegaLiteChart]'))
      .some(c => inView(c) && !c.querySelector('svg, canvas'))
    || Array.from(main.querySelectorAll('[data-testid=stDataFrame]'))
      .some(t => inView(t) && !t.querySelector('canvas'));
  if (titled && !busy && !undrawn) sig = main.querySelectorAll(':not(canvas *)').length + ':' + main.scrollHeight;
  const now = performance.now();
  if (sig === null || sig !== state.sig) { state.sig = sig; state.since = now; return null; }
  return now - state.since >= calm ? state.since : null;
}"""


def wait_complete(page, title: str, timeout: float) -> float:
    """ms from navigation start to the page's first complete render (COMPLETE_JS); TimeoutError,
    with what still keeps the page from counting as complete, when `timeout` s pass first."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        handle = page.wait_for_function(
            COMPLETE_JS, arg=[title.lower(), CALM_MS], polling="raf", timeout=timeout * 1000
        )
    except PlaywrightTimeout:
        busy = page.evaluate(
            "() => Array.from(document.querySelectorAll('[data-testid=stSkeleton], [data-stale=true], "
            "[data-testid=stStatusWidgetRunningIcon], [data-testid=stVegaLiteChart], [data-testid=stDataFrame]'))"
            ".map(e => (e.getAttribute('data-testid') || 'stale') + (e.querySelector('svg, canvas') ? '+' : ''))"
        )
        raise TimeoutError(f"{page.url} did not settle within {timeout:.0f} s; elements: {busy}") from None
    return float(handle.json_value())


def _cache_key(transitions: int, deploys: int) -> str:
    """What a cached store depends on: its size, the day it was built for (its data ends then; the
    dashboard's default range is the last 30 days), and the schema, derive SQL and generator."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted((root / "analytics" / "sql").rglob("*.sql")) + [root / "benchmarks" / "views.py"]:
        digest.update(path.read_bytes())
    day = datetime.now(UTC).strftime("%Y%m%d")
    return f"render-{transitions}-{deploys}-{day}-{digest.hexdigest()[:10]}"


def cached_store(path: Path, transitions: int, deploys: int, cache: Path | None) -> dict[str, float]:
    """build_store(path, ...), or a copy of the same store built earlier today into `cache` (a
    1,000,000-transition store takes minutes to build; the benchmark's worker writes to its copy)."""
    if cache is None:
        return build_store(path, transitions, deploys)
    key = _cache_key(transitions, deploys)
    stored, figures = cache / f"{key}.duckdb", cache / f"{key}.json"
    if not (stored.exists() and figures.exists()):
        cache.mkdir(parents=True, exist_ok=True)
        for old in cache.glob(f"render-{transitions}-{deploys}-*"):
            old.unlink()
        building = cache / f"{key}.building.duckdb"
        building.unlink(missing_ok=True)
        built = build_store(building, transitions, deploys)
        building.rename(stored)
        figures.write_text(json.dumps(built))
    shutil.copyfile(stored, path)
    return {**json.loads(figures.read_text()), "cached": 1.0}


Samples = dict[str, list[float]]  # page file -> ms from navigation start, one per counted round
Page = tuple[str, str, str]  # (file, title, icon), as in dashboard.navigation.PAGES
unsettled: dict[str, str] = {}  # page file -> why it never counted as complete (first time seen)

# The floor: what Streamlit itself costs to show a title and a metric in a new session.
BARE_PAGE: Page = ("bare.py", "Bare Streamlit", "")
BARE_SCRIPT = 'import streamlit as st\n\nst.title("Bare Streamlit")\nst.metric("Metric", 1)\n'


def pages(args: argparse.Namespace) -> tuple[Page, ...]:
    """The pages measured: every page, or those --pages names (file stems)."""
    wanted = {name.strip() for name in args.pages.split(",") if name.strip()} if args.pages else None
    return tuple(p for p in PAGES if wanted is None or Path(p[0]).stem in wanted)


@contextmanager
def bare_streamlit(folder: Path) -> Iterator[str]:
    """BARE_SCRIPT served by `streamlit run` with the dashboard's own options on a free port; its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / BARE_PAGE[0]
    script.write_text(BARE_SCRIPT)
    url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    with (folder / "streamlit.log").open("wb") as log:
        process = subprocess.Popen(
            streamlit_argv("127.0.0.1", int(url.rsplit(":", 1)[1]), script),
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        import requests

        def healthy() -> bool:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the bare Streamlit exited with {process.returncode}; see {folder / 'streamlit.log'}"
                )
            try:
                return requests.get(f"{url}/_stcore/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        poll(healthy, 60, "the bare Streamlit to answer")
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


VISITS = {
    "new-tab": "a new tab: a new Streamlit session, the app loaded afresh (a link opened in a new tab)",
    "same-tab": "the page's address opened in a tab already showing the dashboard (a reload, or a link followed "
    "in the same tab): a new Streamlit session, the browser's JavaScript warm",
    "sidebar": "the sidebar's link followed from the page before, in one session (how a person moves between "
    "pages): no new session, the page script run afresh",
}


def app_cost(empty_ms: float, bare_ms: float, visit: str) -> str:
    """The app column: what our script adds to Streamlit's floor, when both were reached alike."""
    return f"{'n/a':>6}" if visit == "sidebar" else f"{empty_ms - bare_ms:>+6,.0f}"


def visit_mode(args: argparse.Namespace, targets: tuple[Page, ...]) -> str:
    """--visit, except that a script with no sidebar (the bare floor) is reopened in the same tab."""
    if args.visit == "sidebar" and targets == (BARE_PAGE,):
        return "same-tab"
    return str(args.visit)


def follow_sidebar_link(
    page, page_url: Callable[[str], str], targets: tuple[Page, ...], file: str, title: str, timeout: float
) -> float:
    """Move the open tab to `file` by its sidebar link (first opening a page of the dashboard, or
    another page when the tab already shows this one, uncounted); the performance.now() of the click."""
    if page.url == "about:blank" or page.url.rstrip("/") == page_url(file).rstrip("/"):
        other_file, other_title, _ = next((p for p in PAGES if p[0] != file), targets[0])
        page.goto(page_url(other_file), wait_until="commit", timeout=timeout * 1000)
        wait_complete(page, other_title, timeout=timeout)
    page.evaluate("window.__fmComplete = null")
    start = float(page.evaluate("performance.now()"))
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    return start


def measure(
    browser,
    page_url: Callable[[str], str],
    targets: tuple[Page, ...],
    args: argparse.Namespace,
    alerts: dict[str, set[str]],
    alongside: Page | None = None,
) -> tuple[Samples, Samples]:
    """(first complete render, first content) per page of `targets`, each opened at page_url(file);
    any warning or error a page showed on first content goes into `alerts` (it may have rendered
    without data)."""
    samples: Samples = {file: [] for file, _, _ in targets}
    firsts: Samples = {file: [] for file, _, _ in targets}
    finished = 0.0
    # --warm-browser: one browser context for every visit, so its HTTP cache keeps Streamlit's
    # static files as a returning person's browser does; each visit is still a new tab and so a
    # new Streamlit session that runs the page from the start. --visit same-tab and sidebar keep
    # one tab (and so one context) open for every visit.
    visit = visit_mode(args, targets)
    shared = browser.new_context(viewport=VIEWPORT) if args.warm_browser or visit != "new-tab" else None
    kept = shared.new_page() if shared is not None and visit != "new-tab" else None
    # --alongside: another person's tab on that page, open (and refreshing live) the whole time.
    other = browser.new_context(viewport=VIEWPORT).new_page() if alongside else None
    if other is not None and alongside is not None:
        other.goto(page_url(alongside[0]), wait_until="commit", timeout=args.timeout * 1000)
        wait_rendered(other, alongside[1], timeout=args.timeout)
    errors: list[str] = []
    if kept is not None:
        kept.on("pageerror", lambda exc: errors.append(str(exc)))
    for round_no in range(args.warmup + args.repeats):
        for file, title, _ in targets:
            # Pacing, not synchronisation: by default start once the previous visit's cached query
            # results have expired, so this visit's queries reach the worker.
            time.sleep(max(0.0, finished + args.pace - time.monotonic()))
            page = kept or (shared or browser.new_context(viewport=VIEWPORT)).new_page()
            try:
                if kept is None:
                    errors = []
                    page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                if visit == "sidebar":
                    start = follow_sidebar_link(page, page_url, targets, file, title, args.timeout)
                else:
                    page.goto(page_url(file), wait_until="commit", timeout=args.timeout * 1000)
                    start = 0.0  # performance.now() counts from this navigation
                rendered = wait_rendered(page, title, timeout=args.timeout)
                if rendered.exception or errors:
                    raise SystemExit(f"{title} ({page_url(file)}) failed on this store: {rendered.exception or errors}")
                try:
                    complete = wait_complete(page, title, timeout=args.timeout) - start
                except TimeoutError as exc:  # counted as never complete; the run goes on
                    complete = math.inf
                    unsettled.setdefault(file, str(exc))
            finally:
                if kept is None:
                    page.close()
                    if shared is None:
                        page.context.close()
            finished = time.monotonic()
            if round_no >= args.warmup:
                samples[file].append(complete)
                firsts[file].append(rendered.ms - start)
                alerts.setdefault(file, set()).update(rendered.alerts)
    if shared is not None:
        shared.close()
    if other is not None:
        other.context.close()
    return samples, firsts


def run_stack(
    db: Path, browser, args: argparse.Namespace, alerts: dict[str, set[str]]
) -> tuple[tuple[Samples, Samples], float]:
    """`flowmeter up` on `db` (no demo), every page measured; ((complete, first content), seconds
    until up answered)."""
    up = Up(db, demo=False, log_path=db.with_name("up.log"))
    started = time.perf_counter()
    try:
        up.start(timeout=max(120.0, args.timeout))
        ready = time.perf_counter() - started
        other = next((p for p in PAGES if Path(p[0]).stem == args.alongside), None) if args.alongside else None
        return measure(browser, up.page_url, pages(args), args, alerts, other), ready
    finally:
        code = up.stop()
        if code not in (0, None):
            print(f"  (flowmeter up exited with {code}; see {up.log_path})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transitions", type=int, default=1_000_000, help="size of the store measured")
    parser.add_argument("--deploys", type=int, default=None, help="default: transitions / 200, at least 20")
    parser.add_argument("--repeats", type=int, default=3, help="counted rounds over every page")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds first")
    parser.add_argument("--timeout", type=float, default=60, help="longest wait for one page, seconds")
    parser.add_argument("--pages", default="", help="comma-separated page files without .py (default: every page)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path("test-artifacts/render-store"),
        help="directory that keeps the built store between runs of the same day, schema and size "
        "(default: test-artifacts/render-store; 'none' builds afresh)",
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=QUERY_CACHE_TTL + 0.2,
        help="seconds from one visit's end to the next one's start (default: the dashboard's "
        "query cache has expired; 0 = back to back, cached results may be reused)",
    )
    parser.add_argument(
        "--warm-browser",
        action="store_true",
        help="keep one browser context (its HTTP cache) for every visit, as a returning person's browser; "
        "default: a fresh context, empty cache, for each visit",
    )
    parser.add_argument(
        "--visit",
        choices=list(VISITS),
        default="new-tab",
        help="how each page is reached: " + "; ".join(f"{k}: {v}" for k, v in VISITS.items()) + " (default: new-tab)",
    )
    parser.add_argument(
        "--alongside",
        default="",
        help="a page file without .py kept open in another tab (live refresh on) during every visit: "
        "does a page opened wait on another page's queries? (default: none)",
    )
    args = parser.parse_args(argv)
    if args.alongside and not any(Path(p[0]).stem == args.alongside for p in PAGES):
        parser.error(f"--alongside {args.alongside}: no such page.")
    if args.transitions < 1 or args.repeats < 1 or args.warmup < 0 or args.timeout <= 0 or args.pace < 0:
        parser.error("--transitions, --repeats and --timeout must be positive, --warmup and --pace at least 0.")
    deploys = args.deploys if args.deploys is not None else max(20, args.transitions // 200)
    try:
        require_chromium()
    except ChromiumMissing as exc:
        raise SystemExit(str(exc)) from None

    work = Path(tempfile.mkdtemp(prefix="flowmeter-renderbench-"))
    (work / "data").mkdir()
    (work / "empty").mkdir()
    data_db, empty_db = work / "data" / "bench.duckdb", work / "empty" / "bench.duckdb"
    cache = None if str(args.cache).lower() == "none" else args.cache
    built = cached_store(data_db, args.transitions, deploys, cache)
    Store.open(empty_db).close()  # the schema and the default mapping, nothing landed

    load_before = os.getloadavg()[0]
    with chromium() as browser:
        print(
            f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
            f"duckdb {duckdb.__version__}, Chromium {browser.version}, {platform.system()} {platform.release()}"
        )
        print(
            f"store: {built['transitions']:,} transitions ({built['tickets']:,} tickets, 10 boards), "
            f"{built['deploys']:,} deploys, {built['mib']:,.0f} MiB; generated {built['generated']:.1f} s, "
            f"derived {built['derived']:.1f} s" + (" (copied from the cache)" if built.get("cached") else "")
        )
        alerts: dict[str, dict[str, set[str]]] = {"empty store": {}, "store": {}}
        with bare_streamlit(work / "bare") as bare_url:
            bare, bare_first = measure(browser, lambda _file: bare_url, (BARE_PAGE,), args, {})
        (baseline, baseline_first), baseline_ready = run_stack(empty_db, browser, args, alerts["empty store"])
        (data, data_first), data_ready = run_stack(data_db, browser, args, alerts["store"])

    print(
        f"flowmeter up answered after {data_ready:.1f} s on the store, {baseline_ready:.1f} s on the empty baseline; "
        f"load average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        f"(other work on the machine moves these figures)"
    )
    pacing = (
        f"each visit after the dashboard's {QUERY_CACHE_TTL:g} s query cache expired"
        if args.pace > QUERY_CACHE_TTL
        else f"visits {args.pace:g} s apart (cached query results may be reused)"
    )
    visit = (
        VISITS[args.visit]
        if args.visit != "new-tab"
        else "a new tab of one browser context (its HTTP cache warm)"
        if args.warm_browser
        else "a new browser context (empty cache)"
    )
    if args.visit == "sidebar":
        visit += "; the bare floor reopened in its tab (it has no sidebar)"
    print(
        f"first complete render: ms from navigation start (--visit sidebar: from the click) until the page "
        f"shows its title, every chart and "
        f"table in view is drawn, nothing is loading and the page then stays unchanged for {CALM_MS} ms "
        f"(first content: the title and one metric, chart, table or message); each visit {visit};\n"
        f"{args.warmup} warm-up round(s), then {args.repeats} counted, "
        f"{pacing}; "
        + (f"another tab open on {args.alongside} (live refresh) throughout; " if args.alongside else "")
        + "baseline: the same pages on an empty store, same run; floor: a bare Streamlit script "
        "(st.title + st.metric) with the dashboard's Streamlit options, same run"
    )
    size = f"{built['transitions']:,} transitions"
    head = (
        f"{'page':<14} | {size + ': median':>30} {'min':>6} {'max':>6} | {'empty store: median':>19} "
        f"{'min':>6} {'max':>6} | {'ratio':>6} | {'first content':>13} {'empty':>6} | {'app':>6} "
        f"| target {TARGET_MS:,} ms"
    )
    bare_med = statistics.median(bare[BARE_PAGE[0]])
    print(head + "\n" + "-" * len(head))
    print(
        f"{'bare Streamlit':<14} | {'':>30} {'':>6} {'':>6} | {bare_med:>19,.0f} {min(bare[BARE_PAGE[0]]):>6,.0f} "
        f"{max(bare[BARE_PAGE[0]]):>6,.0f} | {'':>6} | {'':>13} {statistics.median(bare_first[BARE_PAGE[0]]):>6,.0f} "
        f"| {'':>6} | the floor: Streamlit alone"
    )
    for file, title, _ in pages(args):
        got, base = data[file], baseline[file]
        med, base_med = statistics.median(got), statistics.median(base)
        verdict = (
            "met"
            if med <= TARGET_MS
            else f"MISSED by {med - TARGET_MS:,.0f} ms"
            if math.isfinite(med)
            else f"MISSED: never complete within {args.timeout:g} s"
        )
        print(
            f"{title:<14} | {med:>30,.0f} {min(got):>6,.0f} {max(got):>6,.0f} | {base_med:>19,.0f} "
            f"{min(base):>6,.0f} {max(base):>6,.0f} | {med / base_med:>5.2f}x | "
            f"{statistics.median(data_first[file]):>13,.0f} {statistics.median(baseline_first[file]):>6,.0f} "
            f"| {app_cost(base_med, bare_med, args.visit)} | {verdict}"
        )
    worst = max(pages(args), key=lambda p: statistics.median(data[p[0]]))
    print(
        f"slowest page: {worst[1]} ({statistics.median(data[worst[0]]):,.0f} ms median); "
        f"pages within {TARGET_MS:,} ms: {sum(statistics.median(data[f]) <= TARGET_MS for f, _, _ in pages(args))} "
        f"of {len(pages(args))}"
    )
    print(
        "app: the empty store's median minus bare Streamlit's, ms (not with --visit sidebar: the floor is then "
        "a reload): what flowmeter's script costs a page "
        "beyond Streamlit's own (page set-up, sign-in, navigation, sidebar lists, the page's queries and charts)"
    )
    for file, why in unsettled.items():
        print(f"  note: {file} was not complete within {args.timeout:g} s at least once: {why[:400]}")
    for store, shown in alerts.items():
        for file, title, _ in pages(args):
            for text in sorted(shown.get(file, ())):
                print(f"  note: {title} on the {store} showed a warning on first content: {text}")
    shutil.rmtree(work, ignore_errors=True)  # kept on failure, for the logs


if __name__ == "__main__":
    main()
