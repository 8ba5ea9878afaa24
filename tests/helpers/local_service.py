"""What the local stand-ins for a vendor's API share (tests/helpers/fake_*.py): an HTTP server on
127.0.0.1 at a port the OS picks, served from a thread while the `with` block runs, and a
`release` event that pages told to stall wait for (so a test can kill a sync mid-pass)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LocalService:
    """Subclasses set their own state, then call super().__init__(), and answer in _handler()."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

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
