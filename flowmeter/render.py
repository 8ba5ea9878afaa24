"""Query results as a person or a program wants them: an aligned text table, CSV, JSON, Parquet."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from analytics.query import jsonable
from flowcore.errors import FlowmeterError

CELL_WIDTH = 80  # longest value the text table shows whole


def write_result(table: pa.Table, fmt: str, output: Path | None, stdout: TextIO) -> None:
    """The result as `fmt`, to `output` or else to stdout (parquet needs a file)."""
    if fmt == "parquet":
        if output is None:
            raise FlowmeterError("--format parquet writes a binary file; add --output FILE.")
        pq.write_table(table, output)
        return
    text = {"table": render_table, "csv": render_csv, "json": render_json}[fmt](table)
    if output is None:
        stdout.write(text)
        stdout.flush()
    else:
        output.write_text(text, encoding="utf-8")


def _rows(table: pa.Table) -> list[tuple]:
    return list(zip(*(column.to_pylist() for column in table.columns)))


def render_table(table: pa.Table) -> str:
    """Aligned plain text: numbers right, text left, NULL spelled out, long values cut."""
    names = table.column_names
    right = [
        pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type) for f in table.schema
    ]
    cells = [[_text(v) for v in row] for row in _rows(table)]
    widths = [max([len(n)] + [len(row[i]) for row in cells]) for i, n in enumerate(names)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    out = [line(names), line(["-" * w for w in widths])] + [line(row) for row in cells]
    out.append(f"({len(cells):,} row{'' if len(cells) == 1 else 's'})")
    return "\n".join(out) + "\n"


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if not math.isfinite(value) or value != 0 and not 1e-4 <= abs(value) < 1e15:
            return f"{value:.4g}"
        shown = f"{value:.4f}".rstrip("0")
        return shown + "0" if shown.endswith(".") else shown
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (list, dict)):
        value = json.dumps(jsonable(value), ensure_ascii=False)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    text = _printable(str(value))
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


# Control characters (C0, DEL, C1) and lone surrogates as visible escapes: a stored id holding
# an ANSI sequence must not move the cursor, recolour or retitle the user's terminal.
_ESCAPES = {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): " ",
    **{c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if c not in (9, 10, 13)},
    # Bidirectional overrides and isolates reorder what the terminal shows ("Trojan Source").
    **{c: f"\\u{c:04x}" for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]},
}


def _printable(text: str) -> str:
    text = text.translate(_ESCAPES)
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if not text.isascii() else text


def render_csv(table: pa.Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in _rows(table):
        writer.writerow([_csv(jsonable(v)) for v in row])
    return buffer.getvalue()


def _csv(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def render_json(table: pa.Table) -> str:
    """An array of row objects, one per line; times ISO-8601 UTC ('Z')."""
    names = table.column_names
    rows = [json.dumps({n: jsonable(v) for n, v in zip(names, row)}, ensure_ascii=False) for row in _rows(table)]
    return "[\n" + ",\n".join(rows) + "\n]\n" if rows else "[]\n"


def truncation_note(table: pa.Table) -> str:
    return (
        f"note: only the first {table.num_rows:,} rows are shown; the result has more (the query_max_rows "
        "or query_max_result_bytes cap). Add a LIMIT or an aggregate, or raise FLOWMETER_QUERY_MAX_ROWS "
        "or FLOWMETER_QUERY_MAX_RESULT_BYTES."
    )


def render_schema(objects: list[dict[str, Any]]) -> str:
    out = []
    for obj in objects:
        out.append(f"{obj['name']} ({obj['kind']}): {obj['description']}")
        width = max((len(c["name"]) for c in obj["columns"]), default=0)
        out += [f"  {c['name'].ljust(width)}  {c['type']}" for c in obj["columns"]] or ["  (not in this store)"]
        out.append("")
    return "\n".join(out)
