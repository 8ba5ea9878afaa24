"""Who holds the store file. DuckDB admits one writing process per file and says which one
only in the text of the error it raises to the next, so that text is read in this one place."""

from __future__ import annotations

import re


def lock_holder(exc: BaseException) -> str | None:
    """None when `exc` is not about the file's lock; else ' (PID n)' naming the holder, or ''
    when DuckDB did not name it."""
    text = str(exc)
    if "lock" not in text.lower():
        return None
    pid = re.search(r"PID (\d+)", text)
    return f" (PID {pid.group(1)})" if pid else ""
