"""What the local stand-ins for a vendor's API share (tests/helpers/fake_*.py): an HTTP server on
127.0.0.1 at a port the OS picks, served from a thread while the `with` block runs, and a
`release` event that pages told to stall wait for (so a test can kill a sync mid-pass)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlparse

from tests.helpers.waiting import wait_until

Answer = tuple[int, dict[str, str], Any]  # status, extra headers, the JSON body


class LocalService:
    """Subclasses set their own state, then call super().__init__(), and answer each GET in
    answer(path, query (last value of each name), headers (names lower-cased)), and each POST in
    post_answer(path, the JSON body, headers)."""

    CONTENT_TYPE = "application/json"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.stall_after: int | None = None  # list pages past this many wait for `release`
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def post_answer(self, path: str, body: Any, headers: dict[str, str]) -> Answer:
        """A POST with a JSON body (None when it is not JSON); only services that take one override it."""
        return 405, {}, {"message": "Method Not Allowed"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parsed = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
                self._send(*service.answer(parsed.path, query, self._sent()))

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                self._send(*service.post_answer(urlparse(self.path).path, body, self._sent()))

            def _sent(self) -> dict[str, str]:
                return {k.lower(): v for k, v in self.headers.items()}

            def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", service.CONTENT_TYPE)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()  # a stalled page answers, so the server can shut down
        self._server.shutdown()
        self._server.server_close()


def kill_midway(
    service: LocalService, args: list[str], env: dict[str, str], cwd: Path, reached: Callable[[], bool]
) -> None:
    """Run `flowmeter *args` against `service` (whose stall_after holds its later pages) and SIGKILL it
    once `reached()` (it asked for the stalled page); then let the service answer again, its requests
    forgotten, for the run that follows."""
    doomed = subprocess.Popen(
        [sys.executable, "-m", "flowmeter", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(reached, 60, "the pass to ask for the stalled page")
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(30)
    service.stall_after = None
    service.release.set()
    service.requests.clear()  # type: ignore[attr-defined]  # every stand-in records its requests
