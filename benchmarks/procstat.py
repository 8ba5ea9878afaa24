"""Resident memory of a process, from /proc/<pid>/status (Linux)."""

from __future__ import annotations

import threading
from pathlib import Path


def status_kib(pid: int, key: str) -> int | None:
    """VmRSS (now) or VmHWM (peak so far) of `pid` in KiB; None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class RssSampler:
    """Samples VmRSS of `pid` every `interval` s on a thread; stop() returns the peak in MiB:
    the larger of the highest sample and the kernel's VmHWM, read just before stopping."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.highest_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():  # bounded by stop(), which every user calls in a finally
            rss = status_kib(self.pid, "VmRSS")
            if rss is None:
                return
            self.highest_kib = max(self.highest_kib, rss)
            self.samples += 1
            self._stop.wait(self.interval)

    def stop(self) -> float:
        hwm = status_kib(self.pid, "VmHWM") or 0
        self._stop.set()
        self._thread.join(5)
        return max(hwm, self.highest_kib) / 1024
