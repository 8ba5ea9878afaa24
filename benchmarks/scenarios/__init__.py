"""The scenarios `python -m benchmarks` runs, each a module with `run(ctx) -> Section`."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.query_latency import Worker
from benchmarks.report import Progress

ORDER = ("landing", "freshness", "backfill", "views", "memory", "hostile", "startup")


@dataclass
class Context:
    """What every scenario shares in one run: the broker, a scratch directory, the sizes."""

    server: str  # host:port of the run's one embedded broker
    root: Path  # scratch directory of this run, removed at the end
    scale: float
    repeats: int
    timeout: float  # longest single wait, seconds
    say: Progress
    shared: dict[str, Any] = field(default_factory=dict)  # figures one scenario hands to another
    workers: list[Worker] = field(default_factory=list)

    def size(self, full: int, least: int = 1) -> int:
        return max(least, round(full * self.scale))

    def prefix(self, name: str) -> str:
        """A topic prefix no earlier run or scenario used."""
        return f"bench-{name}-{uuid.uuid4().hex[:8]}."

    def worker(self, prefix: str) -> Worker:
        """A real worker (not started) on a fresh store under the run's scratch directory."""
        worker = Worker(self.server, prefix, parent=self.root)
        self.workers.append(worker)
        return worker

    @contextmanager
    def running(self, worker: Worker) -> Iterator[Worker]:
        """Stop the worker and remove its files on leaving; on an error show its log's end first."""
        try:
            yield worker
        except (Exception, SystemExit):  # not on Ctrl-C
            print(tail(worker.dir / "worker.log"), flush=True)
            raise
        finally:
            worker.stop()
            self.workers.remove(worker)
            shutil.rmtree(worker.dir, ignore_errors=True)

    def scratch(self, name: str) -> Path:
        path = self.root / f"{name}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def clean_env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}

    def close(self) -> None:
        """Stop every worker still running (after an error or Ctrl-C)."""
        for worker in list(self.workers):
            try:
                worker.stop(timeout=20)
            except Exception as exc:  # keep stopping the others
                print(f"  could not stop the worker in {worker.dir}: {exc}")
            self.workers.remove(worker)


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"  ({path} is missing)"
    return f"  last lines of {path}:\n" + "\n".join(f"    {line}" for line in text)
