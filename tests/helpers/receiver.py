"""`flowmeter receive` as a child process on a port the OS picked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from streams.broker import free_port
from tests.helpers.waiting import wait_until


class Receiver:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flowmeter", "receive", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.log = log
        wait_until(self.up, 30, f"the receiver on {self.url}")

    def up(self) -> bool:
        """Whether the receiver answers /healthz; fails the test if it exited instead."""
        if self.process.poll() is not None:
            pytest.fail(f"receiver exited: {self.log.read_text()[-2000:]}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def post(self, path: str, body: bytes, **headers: str) -> requests.Response:
        return requests.post(f"{self.url}{path}", data=body, headers=headers, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)


def cli_env(worker: Any) -> dict[str, str]:
    """The settings a worker runs with, for a receiver or CLI command next to it."""
    return {k: v for k, v in worker.env.items()}
