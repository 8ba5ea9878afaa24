"""The dashboard's pages, in sidebar order: one list that app.py draws and the browser test walks.

Overview is home (first, served at /): what a team lead opens the dashboard for. Ingest and
Dead letters are for whoever runs the pipeline, so they come after the pages about the work.
Each entry is (file under pages_/, title, Material icon). Streamlit derives a page's URL path
from its file name (``cycle_time.py`` is served at ``/cycle_time``); the first page is the default.
"""

from __future__ import annotations

from pathlib import Path

PAGES_DIR = Path(__file__).parent / "pages_"

PAGES: tuple[tuple[str, str, str], ...] = (
    ("overview.py", "Overview", ":material/dashboard:"),
    ("flow.py", "Flow", ":material/stacked_line_chart:"),
    ("cycle_time.py", "Cycle time", ":material/timer:"),
    ("aging.py", "Aging WIP", ":material/hourglass_bottom:"),
    ("handoffs.py", "Handoffs", ":material/swap_horiz:"),
    ("delivery.py", "Delivery", ":material/rocket_launch:"),
    ("stability.py", "Stability", ":material/crisis_alert:"),
    ("alerts.py", "Alerts", ":material/notifications_active:"),
    ("dead_letters.py", "Dead letters", ":material/report:"),
    ("ingest.py", "Ingest", ":material/input:"),
    ("sql.py", "SQL", ":material/terminal:"),
)


def url_path(file: str) -> str:
    """The path Streamlit serves a page at ('' for the default page)."""
    return "" if file == PAGES[0][0] else Path(file).stem
