"""The dashboard render benchmark at a tiny size, so it cannot rot. A file of its own: it runs for
about half a minute, and pytest-xdist keeps a file on one worker
(tests/README.md#how-the-suite-is-shared-out). It measures two pages (one drawing charts per board,
one a table), not all eleven: every page opening in Chromium without an exception is
tests/test_browser.py's; here what is checked is the benchmark's own working and print-out, and
each page costs two more `flowmeter up` visits (~10 s)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.heavy]


def test_dashboard_render_benchmark_times_every_page_against_the_empty_baseline():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.dashboard_render",
            "--transitions",
            "2000",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--pace",
            "0",
            "--timeout",
            "60",
            "--cache",
            "none",
            # One browser context for every visit: the test checks what the benchmark prints, and a
            # fresh context per visit (the default) re-fetches Streamlit's scripts each time (~1 min here).
            "--warm-browser",
            "--pages",
            "flow,dead_letters",
            # Pages reached by the sidebar's links (the bare floor then by a reload): the most steps.
            "--visit",
            "sidebar",
        ],
        capture_output=True,
        text=True,
        timeout=290,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for label in (
        "machine: ",
        "transitions (",
        "empty store: median",
        "ratio",
        "first content",
        "target 1,500 ms",
        "slowest page: ",
        "the sidebar's link followed",
    ):
        assert label in result.stdout
    for title in ("Flow", "Dead letters"):
        assert f"\n{title} " in result.stdout
    assert "\nOverview " not in result.stdout  # --pages was followed


def test_the_render_benchmark_measures_every_page_unless_told_otherwise():
    import argparse

    from benchmarks.dashboard_render import pages
    from dashboard.navigation import PAGES

    assert pages(argparse.Namespace(pages=None)) == PAGES
    assert [p[1] for p in pages(argparse.Namespace(pages="sql, flow"))] == ["Flow", "SQL"]  # in PAGES' order


# A page shaped like Streamlit's (the main area, a title, a table's canvas) that changes once, 300 ms
# after it opened: inside the canvas (where a table's grid puts its accessibility copy of the cells,
# fallback content the browser never paints), or beside it (something a person sees).
CHANGING_PAGE = """<div data-testid="stMain"><h1>Flow</h1>
<div data-testid="stDataFrame"><canvas data-testid="data-grid-canvas" width="200" height="50"></canvas></div></div>
<script>setTimeout(() => {{
  document.querySelector('{where}').insertAdjacentHTML('beforeend', '<table><tr><td>a cell</td></tr></table>');
  window.changedAt = performance.now();
}}, 300);</script>"""


@pytest.mark.parametrize(("where", "counts"), [("canvas", False), ("[data-testid=stMain]", True)])
def test_complete_means_nothing_painted_changes_any_more(where, counts):
    from benchmarks.dashboard_render import wait_complete
    from tests.helpers.browser import VIEWPORT, chromium

    with chromium() as browser:
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.set_content(CHANGING_PAGE.format(where=where))
        complete = wait_complete(page, "Flow", timeout=20)
        changed = page.evaluate("window.changedAt")
    assert changed is not None
    # Painted: the page is complete only once it stops changing. In the canvas: it was complete before.
    assert (complete >= changed) is counts
