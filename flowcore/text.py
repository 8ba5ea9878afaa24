"""Text checks every layer needs. Ground floor: imports nothing of ours."""

from __future__ import annotations


def is_utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8: Python's json reads an escaped lone surrogate
    (\\ud800) into a str that cannot, and DuckDB, Kafka headers and terminals all need UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
