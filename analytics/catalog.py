"""What the store documents about itself: each table's and view's one-line description, read
from the SQL files (the comment above each CREATE TABLE, the first header line of each view


file). One source for `flowmeter schema`, the dashboard's schema browser and the docs test."""

from __future__ import annotations

import re
from importlib import resources

_VIEW_HEADER = re.compile(r"^--\s*(\w+):\s*(.+?)\s*$")


def documented() -> list[dict[str, str]]:
    """Every table and view the SQL files create, with the description written above it."""
    sql_dir = resources.files("analytics") / "sql"
    found = []
    lines = (sql_dir / "tables.sql").read_text().splitlines()
    for number, line in enumerate(lines):
        if match := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", line):
            above: list[str] = []
            for previous in reversed(lines[:number]):
                if not previous.startswith("--") or previous.startswith("-- ----"):
                    break
                above.insert(0, previous[2:].strip())
            found.append({"name": match.group(1), "kind": "table", "description": " ".join(above)})
    for path in sorted((p for p in (sql_dir / "views").iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        text = path.read_text()
        header = _VIEW_HEADER.match(text.lstrip().splitlines()[0]) if text.strip() else None
        for name in re.findall(r"CREATE OR REPLACE VIEW (\w+)", text):
            description = header.group(2) if header and header.group(1) == name else ""
            found.append({"name": name, "kind": "view", "description": description})
    return found
