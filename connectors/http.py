"""HTTP for connectors: timeouts, retries with capped exponential backoff and jitter,
Retry-After honoured, JSON decoded strictly, credentials never logged."""

from __future__ import annotations

import email.utils
import random
import time
from datetime import datetime, timezone

import httpx
import orjson


class UpstreamError(Exception):
    """An upstream failed in a way a retry later may fix (network, 5xx, 429, bad JSON)."""

    def __init__(self, message: str, *, retry_after: float | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        # A 4xx other than 408/425/429 (bad key, wrong URL) will not heal within one poll:
        # retrying only hammers the upstream; the poller's backoff handles the next try.
        self.retryable = retryable


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Full-jitter exponential backoff, never shorter than the server's Retry-After."""
    delay = random.uniform(0, min(cap, base * 2 ** attempt))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class JsonClient:
    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        timeout: float = 20.0,
        attempts: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep=time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(
            headers={"Accept": "application/json", "User-Agent": "ioc-dongthap/0.1"} | (headers or {}),
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            follow_redirects=True,
        )
        self.attempts = attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.requests = 0

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def get(self, path: str, params: dict | None = None, headers: dict | None = None):
        """GET JSON. Returns (json, response); json is None for 304 Not Modified."""
        last: UpstreamError | None = None
        for attempt in range(self.attempts):
            try:
                return self._get_once(path, params, headers)
            except UpstreamError as err:
                last = err
                if not err.retryable:
                    raise
                if attempt + 1 < self.attempts:
                    self.sleep(backoff_delay(attempt, self.backoff_base, self.backoff_cap, err.retry_after))
        assert last is not None
        raise last

    def _get_once(self, path, params, headers):
        self.requests += 1
        url = self.url(path)
        try:
            res = self.client.get(url, params=params, headers=headers)
        except httpx.TimeoutException:
            raise UpstreamError(f"timeout reading {_safe(url)}") from None
        except httpx.HTTPError as err:
            raise UpstreamError(f"{type(err).__name__} on {_safe(url)}: {err}") from None
        if res.status_code == 304:
            return None, res
        if res.status_code in RETRY_STATUS:
            raise UpstreamError(
                f"HTTP {res.status_code} from {_safe(url)}", retry_after=parse_retry_after(res.headers.get("Retry-After"))
            )
        if res.status_code >= 400:
            raise UpstreamError(f"HTTP {res.status_code} from {_safe(url)}: {res.text[:200]}", retryable=False)
        try:
            return orjson.loads(res.content), res
        except orjson.JSONDecodeError as err:
            raise UpstreamError(f"malformed JSON from {_safe(url)} ({len(res.content)} bytes): {err}") from None

    def close(self) -> None:
        self.client.close()


def _safe(url: str) -> str:
    """URL without query string: api keys travel there on some upstreams."""
    return url.split("?", 1)[0]
