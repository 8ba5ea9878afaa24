"""Where the demo's events go: v1 events to Kafka, Alertmanager notifications to the receiver.

``run_demo`` hands every event to one ``send(kind, event)``. ``DemoDelivery`` is that send for
``flowmeter demo``: v1 events go to the producer; an "alertmanager" event is the body of an
Alertmanager webhook notification, POSTed to the running receiver's /webhooks/alertmanager (with
``Authorization: Bearer <alertmanager_token>`` when that is set), so those incidents reach the
store the way a real Alertmanager's would. With no receiver URL the same body is mapped by the
receiver's own adapter and produced as v1 events, so the store holds the same incidents either
way; the log says so once.

A POST that fails (no answer, or a 5xx such as the receiver's 503 while the broker is away) is
tried ATTEMPTS times in all, then logged and dropped: the demo never stops for it. A 4xx (a
wrong token, a refused body) is not retried.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from sources.adapters import Unmappable, alertmanager

log = logging.getLogger(__name__)

ATTEMPTS = 4
FIRST_PAUSE = 0.5  # seconds before the second attempt, doubling after each failure
TIMEOUT = 10.0  # the receiver answers within 10 s (sources/receiver.py)
PATH = "/webhooks/alertmanager"


class DemoDelivery:
    def __init__(
        self,
        send_event: Callable[[str, dict[str, Any]], None],
        receiver_url: str | None = None,
        token: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.send_event = send_event
        self.url = receiver_url.rstrip("/") + PATH if receiver_url else None
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.sleep = sleep
        self.posted = 0
        self.failed = 0
        self._told = False
        self._session = requests.Session()

    def __call__(self, kind: str, event: dict[str, Any]) -> None:
        if kind != "alertmanager":
            self.send_event(kind, event)
        elif self.url is None:
            self._as_v1(event)
        else:
            self._post(event)

    def _as_v1(self, notification: dict[str, Any]) -> None:
        if not self._told:
            log.info("demo: no receiver given (--receiver-url); Alertmanager alerts are sent as v1 incident events")
            self._told = True
        for result in alertmanager.from_webhook(notification):
            if isinstance(result[1], Unmappable):  # the demo's own alerts always map; never crash on it
                log.warning("demo: an Alertmanager alert did not map: %s", result[1])
                continue
            self.send_event(*result)

    def _post(self, notification: dict[str, Any]) -> None:
        assert self.url is not None
        body = json.dumps(notification).encode()
        pause = FIRST_PAUSE
        problem = ""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                answer = self._session.post(self.url, data=body, headers=self.headers, timeout=TIMEOUT)
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if answer.status_code < 300:
                    self.posted += 1
                    return
                problem = f"HTTP {answer.status_code} {answer.text[:200]}"
                if answer.status_code < 500:
                    break  # refused, not unavailable: the same body would be refused again
            if attempt < ATTEMPTS:
                self.sleep(pause)
                pause *= 2
        self.failed += 1
        log.warning("demo: could not post an Alertmanager notification to %s (%s); skipped", self.url, problem)

    def close(self) -> None:
        self._session.close()
