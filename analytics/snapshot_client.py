"""`flowmeter snapshot`: a consistent standalone copy, downloaded from the worker through the
client (or written from the file when none runs), and optionally every view as Parquet from
that one copy. Checks the paths first and reports progress while it downloads."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from analytics.catalog import documented
from analytics.client import WorkerError, WorkerUnreachable, open_read_only, request, worker_url
from analytics.snapshot import SnapshotError, export_parquet, write_snapshot
from flowcore.settings import Settings

Progress = Callable[[int, str], contextlib.AbstractContextManager[Callable[[int], None]]]


@dataclass(frozen=True)
class SnapshotDone:
    path: Path
    size: int  # bytes
    rows: dict[str, int]  # table -> rows in the snapshot
    source: str
    seconds: float
    parquet_dir: Path | None = None
    parquet_rows: dict[str, int] | None = None  # view -> rows exported

    def summary(self) -> str:
        main = ", ".join(f"{self.rows.get(t, 0):,} {t}" for t in ("transitions", "deploys", "dead_letters", "tickets"))
        text = (
            f"snapshot {self.path} ({self.size / 1e6:,.1f} MB, {len(self.rows)} tables: {main}) "
            f"from {self.source} in {self.seconds:.1f} s"
        )
        if self.parquet_dir is not None and self.parquet_rows is not None:
            text += (
                f"; {len(self.parquet_rows)} views as Parquet in {self.parquet_dir} "
                f"({sum(self.parquet_rows.values()):,} rows)"
            )
        return text + "."


@contextlib.contextmanager
def _no_progress(_total: int, _label: str) -> Iterator[Callable[[int], None]]:
    yield lambda _n: None


def snapshot(
    conf: Settings,
    path: Path,
    parquet_dir: Path | None = None,
    views: list[str] | None = None,
    force: bool = False,
    progress: Progress = _no_progress,
) -> SnapshotDone:
    """A consistent standalone copy of the store at `path`; then, optionally, `views` (default:
    every documented view) as Parquet files in `parquet_dir`, all read from that one copy."""
    started = time.monotonic()
    path = Path(path).resolve()
    names = views or [o["name"] for o in documented() if o["kind"] == "view"]
    unknown = sorted(set(names) - {o["name"] for o in documented()})
    if unknown:
        raise SnapshotError(f"no table or view named {', '.join(unknown)}; `flowmeter schema` lists them.")
    if path.exists() and not force:
        raise SnapshotError(f"{path} exists; choose another path or pass --force to replace it.")
    if not path.parent.is_dir():
        raise SnapshotError(f"the directory {path.parent} does not exist.")
    if parquet_dir is not None:
        parquet_dir = Path(parquet_dir).resolve()
        clashes = [n for n in names if (parquet_dir / f"{n}.parquet").exists()]
        if clashes and not force:
            raise SnapshotError(
                f"{parquet_dir / (clashes[0] + '.parquet')} exists; choose another directory or "
                "pass --force to replace the files."
            )
    url = worker_url(conf)
    if url:
        rows, where = _download(conf, url, path, progress), f"the worker at {url}"
    else:
        with open_read_only(conf.db) as con:
            rows, where = write_snapshot(con, path, overwrite=force).rows, str(conf.db)
    exported = None
    if parquet_dir is not None:
        parquet_dir.mkdir(parents=True, exist_ok=True)
        with open_read_only(path) as con:
            exported = export_parquet(con, parquet_dir, names).rows
    return SnapshotDone(path, path.stat().st_size, rows, where, time.monotonic() - started, parquet_dir, exported)


def _download(conf: Settings, url: str, target: Path, progress: Progress) -> dict[str, int]:
    """GET /api/snapshot into a hidden sibling, renamed over `target` only once whole."""
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    response = request(conf, url, "GET", "/api/snapshot", timeout=600, stream=True)
    total = int(response.headers.get("Content-Length") or 0)
    received = 0
    try:
        with response, partial.open("wb") as out, progress(total, f"snapshot {target.name}") as advance:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)
                received += len(chunk)
                advance(len(chunk))
        if total and received != total:
            raise WorkerError(
                f"the snapshot download from {url} stopped after {received:,} of {total:,} bytes; try again."
            )
    except requests.RequestException as exc:
        partial.unlink(missing_ok=True)
        raise WorkerUnreachable(
            f"the snapshot download from {url} failed ({exc.__class__.__name__}); try again."
        ) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return json.loads(response.headers.get("X-Flowmeter-Rows") or "{}")
