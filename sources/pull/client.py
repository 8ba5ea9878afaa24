"""A patient HTTP client for trackers' REST APIs: timeouts, 429 and Retry-After, backoff on 5xx.

Every failure ends as one sentence (an ``ApiError``), never a traceback: ``ApiRefused`` when
retrying cannot help (401, 403, 404, a bad query), ``ApiUnavailable`` when it might later (the
server stayed down or kept rate-limiting past the retries). What a status means for a given
source (which credential to check) is the source's ``explain`` callback.

Waits: a 429 or 503 with ``Retry-After`` (seconds or an HTTP date) waits that long; other 5xx,
timeouts and dropped connections back off 1, 2, 4 ... s (at most ``backoff_max``). A source
with its own rate-limit headers (GitHub's ``x-ratelimit-reset``) passes ``limit_wait``: asked of a
refusal (is it a rate limit, and how long to wait) and of a success (is the quota used up: then
the client waits for its reset before the next request instead of being refused).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from flowcore.errors import EX_TEMPFAIL, FlowmeterError

log = logging.getLogger(__name__)
RETRIED_STATUSES = {429, 500, 502, 503, 504}
LONGEST_WAIT = 900.0  # a Retry-After longer than this is cut: a pass should not sleep for hours


class ApiError(FlowmeterError):
    """A request to a tracker failed; the message names what to check."""


class ApiRefused(ApiError):
    """The tracker answered, and retrying will not change its answer (401, 403, 404, 400)."""


class ApiUnavailable(ApiError):
    """The tracker could not be reached or kept failing; a later pass may succeed."""

    exit_code = EX_TEMPFAIL


Explain = Callable[[int, str, str], str]  # (status, path, the server's own message) -> one sentence


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, moment.timestamp() - now)


class ApiClient:
    """GETs (and POSTs queries for) JSON from one base URL with one set of credentials."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff_max: float = 60.0,
        explain: Explain | None = None,
        limit_wait: Callable[[requests.Response], float | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff_max = backoff_max
        self.requests = 0  # made, retries included
        self.waited = 0.0  # seconds spent waiting on rate limits and backoff
        self.last_headers: Any = {}  # of the last answer get() returned: paging headers (GitLab's x-next-page, Link)
        self._explain = explain or _plain
        self._limit_wait = limit_wait
        self._sleep = sleep
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json", "User-Agent": "flowmeter-sync"})
        self._session.headers.update(headers or {})
        if auth:
            self._session.auth = auth

    def close(self) -> None:
        self._session.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON body of GET base_url + path; an ApiError in one sentence when it cannot be had."""
        return self.get_page(path, params)[0]

    def get_page(self, path: str, params: dict[str, Any] | None = None) -> tuple[Any, Mapping[str, str]]:
        """(JSON body, response headers) of GET base_url + path, or of an absolute URL the server gave
        (a ``Link: <...>; rel="next"``), so a source can page by headers (GitHub, GitLab)."""
        return self._request("GET", path, params=params)

    def post_json(self, path: str, body: Any) -> Any:
        """The JSON answer of POST base_url + path (or an absolute URL) with a JSON body, e.g. a GraphQL
        query: the same retries, rate-limit waits and one-sentence refusals as a GET. A query only
        reads, so resending it after a timeout or a 5xx is safe."""
        return self._request("POST", path, body=body)[0]

    def _request(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> tuple[Any, Mapping[str, str]]:
        url = path if path.startswith(("https://", "http://")) else self.base_url + path
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            self.requests += 1
            try:
                if method == "GET":
                    response = self._session.get(url, params=params, timeout=self.timeout)
                else:
                    response = self._session.request(method, url, json=body, timeout=self.timeout)
            except requests.RequestException as exc:
                if last:
                    raise ApiUnavailable(
                        f"cannot reach {self.base_url} ({_short(exc)}) after {self.retries + 1} attempts; "
                        "check the URL and the network, then run it again."
                    ) from None
                self._wait(self._backoff(attempt), f"{type(exc).__name__} on {path}")
                continue
            if response.status_code < 400:
                self.last_headers = response.headers
                try:
                    body = response.json()
                except ValueError:
                    raise ApiRefused(
                        f"{url} answered {response.status_code} with something that is not JSON "
                        f"({response.headers.get('Content-Type', 'no content type')}); check the URL."
                    ) from None
                spent = self._limit_wait(response) if self._limit_wait else None
                if spent:  # the quota is used up: wait for its reset before the next request, not after a refusal
                    self._wait(min(spent, LONGEST_WAIT), f"rate limit used up after {path}")
                return body, response.headers
            status = response.status_code
            if status in RETRIED_STATUSES or self._limited(response):
                if last:
                    raise ApiUnavailable(
                        f"{self.base_url} kept answering {status} ({'rate limited' if status == 429 else 'failing'}) "
                        f"after {self.retries + 1} attempts; run it again later."
                    )
                wait = self._server_wait(response)
                self._wait(wait if wait is not None else self._backoff(attempt), f"{status} on {path}")
                continue
            raise ApiRefused(self._explain(status, path, _message(response)))
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _limited(self, response: requests.Response) -> bool:
        """A source-specific limit on another status (GitHub's 403 with x-ratelimit-remaining: 0)."""
        return self._limit_wait is not None and self._limit_wait(response) is not None

    def _server_wait(self, response: requests.Response) -> float | None:
        wait = retry_after(response.headers.get("Retry-After"))
        if wait is None and self._limit_wait is not None:
            wait = self._limit_wait(response)
        return None if wait is None else min(wait, LONGEST_WAIT)

    def _backoff(self, attempt: int) -> float:
        return min(float(2**attempt), self.backoff_max)

    def _wait(self, seconds: float, why: str) -> None:
        log.warning("%s: waiting %.1f s before retrying", why, seconds)
        self.waited += seconds
        self._sleep(seconds)


def _plain(status: int, path: str, message: str) -> str:
    return f"the server refused {path} with {status}{f' ({message})' if message else ''}."


def _message(response: requests.Response) -> str:
    """The server's own words: Jira's errorMessages / errors, GitHub's and GitLab's message."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    for key in ("errorMessages", "message", "error"):
        value = body.get(key)
        if isinstance(value, list):
            parts += [str(v) for v in value if v]
        elif isinstance(value, str) and value:
            parts.append(value)
    errors = body.get("errors")
    if isinstance(errors, dict):
        parts += [f"{k}: {v}" for k, v in errors.items()]
    return "; ".join(parts)[:300]


def _short(exc: Exception) -> str:
    return (
        type(exc).__name__
        if isinstance(exc, requests.Timeout)
        else str(exc).split(":")[-1].strip()[:120] or type(exc).__name__
    )


def utc_now() -> datetime:
    return datetime.now(UTC)
