"""A dead letter on the wire: its header names, its bounded text, its truncated copy.

Ground floor: the worker, the receiver and `flowmeter produce` all put dead letters on the
dead-letter topic, and the worker reads them back, so the names and limits live here once.

Two limits keep one hostile message from breaking the dead-letter path itself (docs/metrics.md,
"dead_letters"): Faust's producer refuses a message over 1,000,000 bytes, so the topic gets at
most the first COPY_BYTES of an oversized message with its full size in a header; and header and
stored text must be valid UTF-8, so reasons and kinds are escaped (a lone surrogate becomes the
six characters ``\\ud800``) and bounded.
"""

from __future__ import annotations

from typing import Any

REASON = "flowmeter-reason"  # one sentence: why the message was rejected
SOURCE = "flowmeter-source"  # where the message came from: topic[partition]@offset, file:PATH:LINE, http:...
KIND = "flowmeter-kind"  # transition | deploy | unknown, or whatever another producer says
ORIGIN = "flowmeter-origin"  # worker | receiver | produce: who rejected it (a claim, not a proof)
ORIGINAL_BYTES = "flowmeter-original-bytes"  # the message's size before the copy was cut

COPY_BYTES = 64 * 1024  # a dead letter's copy on the topic: well under the producer's 1,000,000 bytes
STORED_BYTES = 1_000_000  # a dead letter's bytes kept in the store (a Kafka message is never larger)
REASON_CHARS = 1_000
KIND_CHARS = 64
QUOTE_CHARS = 80  # a value quoted inside a reason


def clean_text(text: str, limit: int) -> str:
    """``text`` as printable, valid UTF-8 of at most ``limit`` characters: anything unprintable
    (control characters, lone surrogates) escaped as ``\\n``, ``\\ud800``; a longer text cut
    with an ellipsis."""
    if len(text) <= limit and text.isprintable():
        return text  # the common case, one C-level pass
    cut = text[:limit]  # escaping only makes it longer: cut first so a huge text costs little
    escaped = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in cut)
    if len(escaped) > limit or len(text) > limit:
        escaped = escaped[: limit - 1] + "\u2026"
    return escaped


def quote(value: Any) -> str:
    """A value as a reason quotes it: in single quotes, printable and short."""
    return f"'{clean_text(str(value), QUOTE_CHARS)}'"


def copy_of(value: bytes | None, limit: int = COPY_BYTES) -> bytes:
    """The bytes a dead letter keeps: all of them, or the first ``limit`` of an oversized one."""
    if value is None:
        return b""
    return bytes(value[:limit])


def same_message(a: bytes | None, a_size: int | None, b: bytes | None, b_size: int | None) -> bool:
    """Whether two kept copies (each perhaps cut, with the original size) are of the same message:
    the same original size, and the shorter copy a prefix of the longer."""
    a, b = a or b"", b or b""
    a_size = len(a) if a_size is None else a_size
    b_size = len(b) if b_size is None else b_size
    if a_size != b_size:
        return False
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return longer.startswith(shorter)


def is_copy(copy: bytes | None, copy_size: int | None, original: bytes | None, original_size: int | None) -> bool:
    """Whether ``copy`` is exactly what a worker puts on the topic for ``original``: its first
    min(size, COPY_BYTES) bytes, claiming the same size. Anyone can write the headers, so an empty
    value or a shorter prefix that claims a stored dead letter's size is not taken for its copy."""
    copy, original = copy or b"", original or b""
    size = len(original) if original_size is None else original_size
    claimed = len(copy) if copy_size is None else copy_size
    return claimed == size and len(copy) == min(size, COPY_BYTES) and original.startswith(copy)


def headers(reason: str, source: str, kind: str, origin: str, original_bytes: int) -> list[tuple[str, bytes]]:
    """The dead-letter headers, every value valid UTF-8 whatever the texts hold."""
    return [
        (REASON, clean_text(reason, REASON_CHARS).encode()),
        (SOURCE, clean_text(source, REASON_CHARS).encode()),
        (KIND, clean_text(kind, KIND_CHARS).encode()),
        (ORIGIN, clean_text(origin, KIND_CHARS).encode()),
        (ORIGINAL_BYTES, str(original_bytes).encode()),
    ]


def read_headers(raw: Any) -> dict[str, str]:
    """Kafka headers (a list of pairs or a mapping, values bytes) as text; never raises on odd bytes."""
    pairs = raw.items() if hasattr(raw, "items") else (raw or [])
    out = {}
    for key, value in pairs:
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value).decode("utf-8", "replace")
        elif value is None:
            value = ""
        out[str(key)] = str(value)
    return out


def original_size(text: str | None) -> int | None:
    """The flowmeter-original-bytes header as a size, or None when absent or not a plain count."""
    if text and text.isascii() and text.isdigit() and len(text) <= 15:
        return int(text)
    return None
