"""JsonClient retry policy: transient failures are retried with backoff, client errors are not."""

import httpx
import pytest

from connectors.http import JsonClient, UpstreamError, parse_retry_after


def _client(responses: list[httpx.Response]) -> tuple[JsonClient, list[str], list[float]]:
    seen: list[str] = []
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return responses.pop(0)

    c = JsonClient("http://upstream.test/api", attempts=3, sleep=slept.append)
    c.client = httpx.Client(transport=httpx.MockTransport(handler))
    return c, seen, slept


def test_server_error_is_retried_and_retry_after_honoured():
    c, seen, slept = _client([
        httpx.Response(503, headers={"Retry-After": "7"}),
        httpx.Response(200, json={"ok": True}),
    ])
    body, _ = c.get("x.json")
    assert body == {"ok": True}
    assert len(seen) == 2
    assert slept and slept[0] >= 7


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_error_is_not_retried(status):
    c, seen, slept = _client([httpx.Response(status, text="nope")] * 3)
    with pytest.raises(UpstreamError, match=f"HTTP {status}"):
        c.get("x.json")
    assert len(seen) == 1 and slept == []


def test_429_is_retried():
    c, seen, _ = _client([httpx.Response(429), httpx.Response(429), httpx.Response(429)])
    with pytest.raises(UpstreamError, match="HTTP 429"):
        c.get("x.json")
    assert len(seen) == 3


def test_api_key_in_query_is_not_in_error_message():
    c, _, _ = _client([httpx.Response(404)])
    with pytest.raises(UpstreamError) as err:
        c.get("x.json", params={"api_key": "s3cret"})
    assert "s3cret" not in str(err.value)


def test_retry_after_forms():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
