"""The web's Redis client: after a failed connection it refuses at once for a while, so one
request that reads Redis several times waits for one round of retries, not one per read."""

from __future__ import annotations

import socket
import time

import pytest
import redis

from ioc.redis_client import redis_client
from ioc.settings import load_settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on return: connections are refused


@pytest.fixture
def attempts(monkeypatch):
    seen = []
    real = redis.connection.Connection._connect

    def counted(self):
        seen.append(time.monotonic())
        return real(self)

    monkeypatch.setattr(redis.connection.Connection, "_connect", counted)
    return seen


def test_after_a_failed_connection_the_web_client_refuses_at_once_then_tries_again(attempts):
    settings = load_settings(redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    client = redis_client(settings, socket_timeout=1, socket_connect_timeout=1, retries=2, fail_fast_for=0.5)
    with pytest.raises(redis.ConnectionError):
        client.get("k")
    first = len(attempts)
    assert first == 3  # the attempt and its two retries
    for _ in range(3):
        with pytest.raises(redis.ConnectionError, match="less than 0.5 s ago"):
            client.mget(["a", "b"])
        with pytest.raises(redis.ConnectionError, match="less than 0.5 s ago"):
            client.pipeline(transaction=False).get("a").get("b").execute()
    assert len(attempts) == first  # no connection tried within the window
    time.sleep(0.6)
    with pytest.raises(redis.ConnectionError):
        client.get("k")
    assert len(attempts) == first + 3  # after it, a full round again


def test_workers_keep_retrying_every_command(attempts):
    settings = load_settings(redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    client = redis_client(settings, socket_timeout=1, socket_connect_timeout=1, retries=1)
    for _ in range(2):
        with pytest.raises(redis.ConnectionError):
            client.get("k")
    assert len(attempts) == 4


def test_the_fail_fast_client_works_against_a_live_redis(redis_url):
    client = redis_client(load_settings(redis_url=redis_url), fail_fast_for=5)
    client.set("ioc-test:fail-fast", "1")
    assert client.get("ioc-test:fail-fast") == b"1"
    client.delete("ioc-test:fail-fast")
