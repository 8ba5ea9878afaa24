"""Every dashboard page in a real browser: `flowmeter up --demo`, then headless Chromium opens each
page in dashboard.navigation.PAGES (so a page added there is covered here without a change), waits
for its real content, saves a full-page screenshot to test-artifacts/browser/ and checks that no
page shows a Streamlit exception or throws in JavaScript. Then two behaviours: a Board chosen in
the sidebar is still chosen after moving to another page through the sidebar and is in the
URL; a URL with filters (a shared link) opens the page with those filters set, and a reload
keeps them. Every page opened by a link with one filter set is tested in test_browser_filters.py,
a file of its own so the two halves run side by side (tests/README.md#how-the-suite-is-shared-out)."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta
from functools import partial
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
    wait_settled,
    watched_page,
)
from tests.helpers.processes import ARTIFACTS, processes_mentioning
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.heavy, pytest.mark.timeout(240)]
SHOTS = ARTIFACTS / "browser"


def nothing_listens(port: int) -> bool:
    """No server accepts on the port. (Binding it is no test here: the browser's closed connections
    leave the dashboard's port in TIME_WAIT for a minute.)"""
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def open_every_page(page, up: Up, errors: list[str]) -> None:
    for file, title, _ in PAGES:
        shot = SHOTS / f"{page_name(file)}.png"
        page.goto(up.page_url(file), wait_until="commit")
        try:
            rendered = wait_rendered(page, title, timeout=30)
        except TimeoutError as exc:
            screenshot(page, shot, full_page=True)
            pytest.fail(f"{exc} (screenshot: {shot})")
        wait_settled(page, timeout=8)  # charts drawn; a page kept busy by live refresh is shot anyway
        screenshot(page, shot, full_page=True)
        assert rendered.exception is None, f"{title} shows an exception ({shot}):\n{rendered.exception}"
        assert page.get_by_test_id("stException").count() == 0, f"{title} shows an exception ({shot})"
        assert not errors, f"JavaScript errors on {title}: {errors}"


def check_filter_survives_page_change(page, up: Up, errors: list[str]) -> None:
    """Choose a Board on one page, follow the sidebar link to another: the Board is still chosen."""
    (first, first_title, _), (second, second_title, _) = PAGES[1 % len(PAGES)], PAGES[2 % len(PAGES)]
    page.goto(up.page_url(first), wait_until="commit")
    wait_rendered(page, first_title)
    sidebar = page.get_by_test_id("stSidebar")
    board = sidebar.get_by_role("combobox", name="Board")
    board.click()
    offered = [text.strip() for text in page.get_by_role("option").all_inner_texts()]
    chosen = next((name for name in offered if name != "All"), None)
    assert chosen, f"the Board filter offers no board after 1,000 demo transitions: {offered}"
    page.get_by_role("option", name=chosen, exact=True).click()
    wait_until(lambda: board.input_value() == chosen, 10, f"the Board filter to show {chosen}")
    wait_settled(page, timeout=10)  # the rerun with the new filter has finished
    wait_until(lambda: f"board={chosen}" in page.url, 10, f"the URL to name board={chosen}: {page.url}")

    sidebar.locator(f'[data-testid=stSidebarNav] a[href="{up.page_url(second)}"]').click()
    wait_until(
        lambda: page.evaluate("location.origin + location.pathname").rstrip("/") == up.page_url(second).rstrip("/"),
        15,
        f"the sidebar link to take the browser to {second_title}",
    )
    assert wait_rendered(page, second_title).exception is None
    wait_until(lambda: board.input_value() == chosen, 10, f"the Board filter to still show {chosen} on {second_title}")
    wait_until(lambda: f"board={chosen}" in page.url, 10, f"the URL on {second_title} to keep board={chosen}")
    wait_settled(page, timeout=8)
    screenshot(page, SHOTS / "filter-after-page-change.png", full_page=False)
    assert page.get_by_test_id("stException").count() == 0
    assert not errors, f"JavaScript errors: {errors}"


def shows(box, value: str) -> bool:
    return box.input_value() == value


def check_url_opens_the_filters_it_names(page, up: Up, errors: list[str]) -> None:
    """A shared link: the demo's checkout board, team storefront, bugs, a date range and Delivery's
    own Environments choice, all from the URL; then a reload keeps them."""
    today = datetime.now(UTC).date()
    first, last = today - timedelta(days=6), today
    query = urlencode(
        [
            ("board", "checkout"),
            ("team", "storefront"),
            ("ticket_type", "bug"),
            ("date_range", first.isoformat()),
            ("date_range", last.isoformat()),
            ("environments", "all"),
        ]
    )
    url = f"{up.url}/delivery?{query}"
    sidebar = page.get_by_test_id("stSidebar")
    for how in ("opened", "reloaded"):
        if how == "opened":
            page.goto(url, wait_until="commit")
        else:
            page.reload(wait_until="commit")
        assert wait_rendered(page, "Delivery").exception is None
        wait_settled(page, timeout=8)
        for name, value in (("Board", "checkout"), ("Team", "storefront"), ("Ticket type", "bug")):
            wait_until(
                partial(shows, sidebar.get_by_role("combobox", name=name), value), 10, f"{name}: {value} ({how})"
            )
        dates = [box.input_value() for box in sidebar.get_by_test_id("stDateInput").locator("input").all()]
        assert dates == [first.isoformat(), last.isoformat()], (how, dates)
        assert page.get_by_role("radio", name="all").is_checked(), how
        screenshot(page, SHOTS / f"url-filters-{how}.png", full_page=True)
        assert page.get_by_test_id("stException").count() == 0, how
    assert not errors, f"JavaScript errors: {errors}"


def test_without_chromium_the_browser_code_says_so_in_one_sentence(monkeypatch):
    import tests.helpers.browser

    monkeypatch.setattr(tests.helpers.browser, "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(
        ChromiumMissing,
        match=r"^Chromium is not installed at /nonexistent/chromium: install the "
        r"Debian package `chromium` \(.*\)\.$",
    ):
        with chromium():
            pass


def test_every_page_renders_in_chromium_without_errors_and_filters_survive_page_changes_and_links(tmp_path):
    try:
        require_chromium()
    except ChromiumMissing as exc:  # a fresh machine without it must hear why, not skip silently
        pytest.fail(str(exc))
    assert PAGES, "dashboard.navigation.PAGES lists no pages"
    db = tmp_path / "demo.duckdb"
    up = Up(db, demo=True, log_path=ARTIFACTS / "browser-up.log")
    errors: list[str] = []
    try:
        up.start(timeout=60)
        wait_for_demo_history(up)
        with chromium() as browser:
            page = watched_page(browser, errors)
            open_every_page(page, up, errors)
            try:
                check_filter_survives_page_change(page, up, errors)
                check_url_opens_the_filters_it_names(page, up, errors)
            except BaseException:
                screenshot(page, SHOTS / "filter-failure.png", full_page=True)
                raise
    finally:
        code = up.stop(timeout=60)  # SIGINT, as Ctrl-C
    output = up.log_path.read_text(errors="replace")
    assert code == 0, up.log_tail()
    assert "flowmeter stopped." in output
    ports = {"dashboard": up.dashboard_port, "worker": int(up.worker_url.rsplit(":", 1)[1])}
    ports.update(
        (name, int(port))
        for name, port in re.findall(r"^(broker|receiver)\s+\w+://127\.0\.0\.1:(\d+)", output, flags=re.M)
    )
    assert set(ports) == {"dashboard", "worker", "broker", "receiver"}, output
    for name, port in ports.items():
        assert nothing_listens(port), f"the {name}'s port {port} still accepts connections"
    assert processes_mentioning(str(db)) == []
    assert not up.runtime.exists()  # the worker stopped cleanly and withdrew its announcement
