"""What the sources do with input they cannot use: one sentence of reason, a copy that fits Kafka.

Shared by the receiver, `flowmeter produce` and `flowmeter load`, so a hostile line gets the
same reason whichever way it came in (docs/architecture.md#why-nothing-is-lost-or-doubled).

- ``reason_for(exc)``: any exception one message caused, as one sentence a person can act on
  (the parser's own ``InvalidEvent`` keeps its reason; a RecursionError, an OverflowError from a
  UTC conversion, Python's 4,300-digit integer limit, a lone surrogate get theirs).
- ``printable(text)``: the text with lone surrogates escaped, so it can go in a Kafka header or
  a DuckDB row (a reason may quote the field that held one).
- ``kept_copy(value)``: the value itself when it fits one Kafka message, else its first
  ``KEPT_BYTES`` and the original size: Faust's producer refuses messages over 1,000,000 bytes,
  so a dead letter re-sent whole could fail forever.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flowcore import deadletter
from flowcore.errors import InvalidEvent

# Largest message a source puts on Kafka, headers and key included with room to spare:
# Faust's producer (the worker re-sends what it rejects) refuses more than 1,000,000 bytes.
MAX_MESSAGE = 900_000
KEPT_BYTES = deadletter.COPY_BYTES  # what an oversized dead letter keeps: enough to see what it was


def reason_for(exc: BaseException) -> str:
    """One sentence for whatever one message raised."""
    if isinstance(exc, InvalidEvent):
        text = exc.reason
    elif isinstance(exc, RecursionError):
        text = "the JSON is nested too deeply to read (more than about 1,000 levels)."
    elif isinstance(exc, OverflowError):
        text = f"a date or number in it is out of range ({exc}); no real event has it."
    elif isinstance(exc, UnicodeError):
        text = "it holds text that is not valid Unicode (a lone surrogate such as \\ud800); send UTF-8 text."
    elif isinstance(exc, ValueError) and "digits" in str(exc):
        text = "it holds an integer literal of more than 4,300 digits, which no field of an event takes."
    else:
        text = f"it could not be read ({exc.__class__.__name__}: {exc})."
    return printable(text)


def printable(text: str) -> str:
    """`text` cut to a reason's length and safe as UTF-8 in a header or a row (lone surrogates
    and control characters escaped): the same rule the worker applies (flowcore.deadletter)."""
    return deadletter.clean_text(text, deadletter.REASON_CHARS)


def lone_surrogate_field(event: dict[str, Any]) -> str | None:
    """The name of the first top-level text field holding a lone surrogate, else None."""
    for name, value in event.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return printable(str(name))
    return None


def kept_copy(value: bytes) -> tuple[bytes, int | None]:
    """(what to keep, original size when cut, else None)."""
    if len(value) <= MAX_MESSAGE:
        return value, None
    return value[:KEPT_BYTES], len(value)


def size_note(original: int | None) -> str:
    """' (a 2,000,000-byte message; its first 65,536 bytes are kept)' when a copy was cut."""
    if original is None:
        return ""
    return f" (a {original:,}-byte message; its first {KEPT_BYTES:,} bytes are kept)"


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def surrogate_reason(line: bytes) -> str | None:
    """Why a JSON line is refused when it spells a lone surrogate (\\ud800) in an escape, else None.

    Python's json reads such escapes into text that cannot be encoded as UTF-8 (so it could not be
    stored, nor quoted in a Kafka header). Checked only when the line holds such an escape at all:
    a pair (an emoji written as \\ud83d\\ude00) is fine."""
    if not _SURROGATE_ESCAPE.search(line):
        return None
    try:
        json.dumps(json.loads(line), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "it holds text that is not valid Unicode (a lone surrogate such as \\ud800); send UTF-8 text."
    except Exception:  # noqa: BLE001 - not JSON, too deep...: the parser gives that reason itself
        return None
    return None
