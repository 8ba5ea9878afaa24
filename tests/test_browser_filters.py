"""Every dashboard page opened by a link that sets one filter, in a real browser: `flowmeter up
--demo`, then headless Chromium opens each page in dashboard.navigation.PAGES under each single
filter (a demo board, a demo team, bugs, the last week) and checks that none shows a Streamlit
exception or throws in JavaScript. (That no chart is empty under a single filter is checked on the
rows behind each chart, in
tests/test_dashboard_pages.py::test_every_page_renders_under_each_single_filter_without_an_empty_chart.)

A file of its own, beside test_browser.py: pytest-xdist keeps a file on one worker, and the two
walks together took close to three minutes in one test (tests/README.md#how-the-suite-is-shared-out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from dashboard.navigation import PAGES
from tests.helpers.browser import (
    ChromiumMissing,
    Up,
    chromium,
    page_name,
    require_chromium,
    screenshot,
    wait_for_demo_history,
    wait_rendered,
    watched_page,
)
from tests.helpers.processes import ARTIFACTS

pytestmark = [pytest.mark.slow, pytest.mark.heavy, pytest.mark.timeout(240)]
SHOTS = ARTIFACTS / "browser"


def single_filters() -> list[list[tuple[str, str]]]:
    """One filter at a time, as a shared link sets it: a demo board, a demo team, bugs, the last week."""
    today = datetime.now(UTC).date()
    week = [("date_range", (today - timedelta(days=6)).isoformat()), ("date_range", today.isoformat())]
    return [[("board", "checkout")], [("team", "storefront")], [("ticket_type", "bug")], week]


def test_every_page_opened_by_a_link_with_one_filter_shows_no_exception(tmp_path):
    try:
        require_chromium()
    except ChromiumMissing as exc:  # a fresh machine without it must hear why, not skip silently
        pytest.fail(str(exc))
    assert PAGES, "dashboard.navigation.PAGES lists no pages"
    up = Up(tmp_path / "demo.duckdb", demo=True, log_path=ARTIFACTS / "browser-filters-up.log")
    errors: list[str] = []
    try:
        up.start(timeout=60)
        wait_for_demo_history(up)
        with chromium() as browser:
            page = watched_page(browser, errors)
            for query in single_filters():
                # The link opens the first page; the others are reached by the sidebar's links, as a
                # person would, in the same Streamlit session (a new page load per page took twice
                # as long). The filter stays in the URL and the session across the change
                # (test_browser.py checks that for the Board).
                for n, (file, title, _) in enumerate(PAGES):
                    if n == 0:
                        page.goto(f"{up.page_url(file)}?{urlencode(query)}", wait_until="commit")
                    else:
                        page.get_by_test_id("stSidebarNav").locator(f'a[href="{up.page_url(file)}"]').click()
                    rendered = wait_rendered(page, title, timeout=30)
                    assert urlencode(query[:1]) in page.url, f"{title}: the URL lost {urlencode(query)}: {page.url}"
                    shot = SHOTS / f"filter-{query[0][0]}-{page_name(file)}.png"
                    if rendered.exception is not None or page.get_by_test_id("stException").count():
                        screenshot(page, shot, full_page=True)
                        pytest.fail(
                            f"{title} with {urlencode(query)} shows an exception ({shot}):\n{rendered.exception}"
                        )
                    assert not errors, f"JavaScript errors on {title} with {urlencode(query)}: {errors}"
    finally:
        code = up.stop(timeout=60)  # SIGINT, as Ctrl-C
    assert code == 0, up.log_tail()
