"""A real `flowmeter worker` child process (so SIGKILL is a real SIGKILL), and where the
tests keep logs and screenshots."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers.waiting import wait_until

ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"


@dataclass
class WorkerProcess:
    env: dict[str, str]
    log_path: Path
    url: str
    process: subprocess.Popen | None = None
    history: list[int] = field(default_factory=list)  # exit codes of earlier runs

    def start(self, **extra_env: str) -> WorkerProcess:
        env = dict(self.env, **extra_env)
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flowmeter", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        wait_until(self.listening, 60, f"the worker's HTTP server ({self.url}); log:\n{self.log_tail()}")
        return self

    def listening(self) -> bool:
        """Whether the started worker answers HTTP; fails the test if it exited instead."""
        assert self.process is not None, "start() launched it"
        if self.process.poll() is not None:
            pytest.fail(f"worker exited with {self.process.returncode} while starting; log:\n{self.log_tail()}")
        try:  # any answer means it listens (a worker with a token answers 401 without one)
            return requests.get(f"{self.url}/api/status", timeout=2).status_code in (200, 401)
        except requests.RequestException:
            return False

    @property
    def headers(self) -> dict[str, str]:
        token = self.env.get("FLOWMETER_QUERY_TOKEN")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def status(self) -> dict[str, Any]:
        report = requests.get(f"{self.url}/api/status", timeout=10, headers=self.headers).json()
        report["by_kind"] = {row["kind"]: row for row in report["kinds"]}
        report["accounted"] = sum(r["landed"] + r["duplicates"] + r["dead_lettered"] for r in report["kinds"])
        return report

    def wait_accounted(self, total: int, timeout: float = 90) -> dict[str, Any]:
        """Wait until every one of `total` input events is landed, duplicate or dead-lettered."""

        def done() -> dict[str, Any] | None:
            assert self.process is not None, "start() first"
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode}; log:\n{self.log_tail()}")
            report = self.status()
            return report if report["accounted"] >= total else None

        return wait_until(done, timeout, f"{total} events accounted for")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout)
        assert self.process is not None, "start() first"
        code = self.process.returncode
        self.history.append(code)
        return code

    def kill(self) -> None:
        """SIGKILL the process if it still runs (the factory's clean-up after each test)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def flowmeter(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    stdin: str | None = None,
) -> subprocess.CompletedProcess:
    """Run `python -m flowmeter ARGS` with no FLOWMETER_* settings inherited; its output as text.
    `stdin`: text to read on standard input (None: this process's own)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    return subprocess.run(
        [sys.executable, "-m", "flowmeter", *args],
        env=dict(base, **(env or {})),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def processes_mentioning(text: str) -> list[int]:
    """Every other process whose command line contains `text` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@contextlib.contextmanager
def holding_store(db: Path) -> Iterator[int]:
    """Another process holds the DuckDB file open (as a running worker does) until the block ends;
    yields its PID, which the refusal names."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(db)!r}); print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.communicate("", timeout=30)  # closing stdin ends it
