"""Screenshots of every dashboard page for the README, taken from a real `flowmeter up --demo`.

Starts the demo on a fresh store in a temporary directory (ports the OS picks, 127.0.0.1 only),
waits until its 14 days of history have landed and ingest has slowed to the live pace, lets the
live demo run for --run-minutes (so the pages show what a team lead sees after a while), then saves
one viewport-sized PNG per page in dashboard.navigation.PAGES to docs/screenshots/<page>.png
(a PNG over the size budget is reduced to 256 colours), and stops the demo with SIGINT, as Ctrl-C.

Run: python scripts/screenshots.py --run-minutes 30   (needs the test extra and /usr/bin/chromium)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a file: the repository's packages (and tests.helpers) come from here

from dashboard.navigation import PAGES  # noqa: E402
from tests.helpers.browser import (  # noqa: E402
    ChromiumMissing,
    Up,
    chromium,
    page_name,
    screenshot,
    wait_rendered,
    wait_settled,
)
from tests.helpers.waiting import poll  # noqa: E402


def history_landed(up: Up, live_rate: float = 50.0) -> bool:
    """The demo's history is in: the latest transition is recent and landing has slowed to about
    the live demo's pace (a few events/s) over the last two seconds."""
    before = up.landed()
    time.sleep(2)
    row = up.status().get("transition", {})
    latest = row.get("last_event_at")
    if not latest or row.get("landed", 0) < 1000:
        return False
    age = (datetime.now(UTC) - datetime.fromisoformat(latest.replace("Z", "+00:00"))).total_seconds()
    return age < 120 and row["landed"] - before < 2 * live_rate


def shrink(path: Path, budget: int) -> None:
    """Over budget: 256 colours, which a page of text, tables and flat charts barely shows."""
    if path.stat().st_size <= budget:
        return
    from PIL import Image

    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--max-kib", type=int, default=250, help="size budget per PNG")
    parser.add_argument("--timeout", type=float, default=180, help="longest wait for the demo's history, seconds")
    parser.add_argument(
        "--run-minutes", type=float, default=0, help="minutes the live demo runs after its history, before the shots"
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="flowmeter-screenshots-"))
    up = Up(work / "demo.duckdb", demo=True, log_path=work / "up.log")
    try:
        up.start()
        print(f"flowmeter up --demo: {up.url} (log {up.log_path}); waiting for the demo's history", flush=True)
        poll(lambda: history_landed(up), args.timeout, "the demo's history to land", interval=0)
        print(f"{up.landed():,} transitions and {up.landed('deploy'):,} deploys landed", flush=True)
        if args.run_minutes > 0:
            until = time.monotonic() + args.run_minutes * 60
            print(f"letting the live demo run for {args.run_minutes:g} minutes", flush=True)
            while time.monotonic() < until:  # bounded by --run-minutes; a line a minute shows it is alive
                time.sleep(min(60.0, max(0.0, until - time.monotonic())))
                print(f"  {up.landed():,} transitions, {up.landed('deploy'):,} deploys landed", flush=True)
        with chromium() as browser:
            context = browser.new_context(viewport={"width": args.width, "height": args.height}, device_scale_factor=1)
            page = context.new_page()
            for file, title, _ in PAGES:
                page.goto(up.page_url(file), wait_until="commit")
                rendered = wait_rendered(page, title, timeout=60)
                if rendered.exception:
                    raise SystemExit(f"{title} shows an exception; no screenshot taken:\n{rendered.exception}")
                if not wait_settled(page, timeout=20):
                    print(f"  note: {title} kept changing for 20 s; shot as it was", flush=True)
                path = screenshot(page, args.out / f"{page_name(file)}.png", full_page=False)
                shrink(path, args.max_kib * 1024)
                print(
                    f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  "
                    f"{path.stat().st_size / 1024:,.0f} KiB",
                    flush=True,
                )
    except ChromiumMissing as exc:
        raise SystemExit(str(exc)) from None
    finally:
        code = up.stop()
        if code not in (0, None):
            print(f"flowmeter up exited with {code}; see {up.log_path}", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)  # kept on failure, for the logs


if __name__ == "__main__":
    main()
