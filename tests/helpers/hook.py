"""A local HTTP receiver of alert notices, for the alert tests and the alert-latency benchmark.

Listens on 127.0.0.1 on a port the OS picks (or one given, to come up "later" on the same
address), records every request with the time it arrived, and answers from a script: a list
of status codes used in turn (200 once it runs out; 0: accept and never answer), ``hang`` to
never answer any, and ``answer_after``: seconds to wait before answering each request in turn
(a slow receiver that takes the notice, then answers past the sender's deadline).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what this request was answered (0: never answered)
    at: float = field(default_factory=time.time)  # wall clock, for latency against the producer

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class AlertHook:
    def __init__(
        self,
        port: int = 0,
        statuses: list[int] | None = None,
        hang: bool = False,
        answer_after: list[float] | None = None,
    ) -> None:
        self.received: list[Received] = []
        self._statuses = list(statuses or [])
        self._delays = list(answer_after or [])
        self._hang = hang
        self._release = threading.Event()
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server hook's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook._lock:
                    status = 0 if hook._hang else (hook._statuses.pop(0) if hook._statuses else 200)
                    delay = hook._delays.pop(0) if hook._delays else 0.0
                    hook.received.append(Received(self.path, dict(self.headers), body, status))
                if status == 0:
                    hook._release.wait(120)  # bounded: released when the hook stops
                    return
                if delay:
                    hook._release.wait(delay)  # the notice is taken (recorded); the answer comes late
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="alert-hook", daemon=True)

    def __enter__(self) -> AlertHook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def answered(self, path: str | None = None) -> list[Received]:
        """Requests answered with a 2xx (the notices a receiver accepted), optionally on one path."""
        with self._lock:
            return [r for r in self.received if 200 <= r.status < 300 and (path is None or r.path == path)]
