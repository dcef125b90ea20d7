"""The one way every process of the product connects to Redis.

Either ``IOC_REDIS_URL`` (or the product's own server under ``IOC_DATA_DIR``), or, with
``IOC_REDIS_SENTINELS`` set, the master that Redis Sentinel names for
``IOC_REDIS_SENTINEL_MASTER``. Both clients retry a command that met a dropped connection,
a timeout or a demoted master, with exponential backoff: a Sentinel failover (a few seconds)
or a Redis restart is ridden out instead of failing the caller. With Sentinel each retry asks
the sentinels for the current master again (redis-py's ``SentinelConnectionPool``), and a
write that reaches a master that became a replica is retried on the new one.

Callers that must answer quickly (the web) pass a small ``retries`` and ``fail_fast_for``;
workers keep the defaults.
"""

from __future__ import annotations

import time

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from ioc.settings import Settings, mask_url_password, redis_url_for

# Workers (connectors, schedulers): 0.2, 0.4, 0.8, 1.6, 2, 2, 2, 2, 2, 2 s = 15 s of waiting
# besides the timeouts (redis-py's backoff is base × 2^n from the first retry, n = 1) — longer
# than a Sentinel failover that was asked for, shorter than the lease TTLs, so a holder keeps
# its lease across one.
WORKER_RETRIES = 10
# The web: a read waits 0.2 + 0.4 + 0.8 s at most (measured 1.4 s), then the page says the data is
# unavailable (the read model never raises) and its next poll tries again.
WEB_RETRIES = 3
RETRY_ERRORS = (ConnectionError, TimeoutError, ReadOnlyError)


# The web after a failed connection: further commands fail at once for this long, so a request
# that reads Redis eight times waits for one round of retries (1.4 s), not eight (11 s).
WEB_FAIL_FAST_S = 5.0


class _FailFast:
    """Pool mix-in: once a connection could not be made (after its retries), refuse at once
    for ``fail_fast_for`` seconds, then try again."""

    fail_fast_for = 0.0
    _down_until = 0.0

    def get_connection(self, *args, **kwargs):
        if time.monotonic() < self._down_until:
            raise ConnectionError(f"Redis unreachable: a connection failed less than {self.fail_fast_for:g} s ago")
        try:
            return super().get_connection(*args, **kwargs)
        except (ConnectionError, TimeoutError):
            self._down_until = time.monotonic() + self.fail_fast_for
            raise


def _pool_class(base: type, fail_fast_for: float) -> type:
    return type(f"FailFast{base.__name__}", (_FailFast, base), {"fail_fast_for": fail_fast_for})


def redis_client(settings: Settings, *, socket_timeout: float = 10, socket_connect_timeout: float = 5,
                 retries: int = WORKER_RETRIES, fail_fast_for: float = 0.0) -> redis.Redis:
    """A client of the configured Redis (a URL, the product's own one, or Sentinel's master).
    ``fail_fast_for`` > 0: after a failed connection, commands fail at once for that long."""
    options = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_connect_timeout,
        "retry": Retry(ExponentialBackoff(cap=2.0, base=0.1), retries),
        "retry_on_error": list(RETRY_ERRORS),
    }
    if not settings.sentinels:
        if not fail_fast_for:
            return redis.Redis.from_url(redis_url_for(settings), **options)
        client = redis.Redis(connection_pool=_pool_class(redis.ConnectionPool, fail_fast_for).from_url(
            redis_url_for(settings), **options))
        client.auto_close_connection_pool = True
        return client
    sentinel_password = settings.redis_sentinel_password
    sentinel = Sentinel(
        settings.sentinels,
        sentinel_kwargs={"socket_timeout": min(socket_timeout, 2.0), "socket_connect_timeout": min(socket_connect_timeout, 2.0),
                         "password": sentinel_password.get_secret_value() if sentinel_password else None},
        **options,
    )
    pool = _pool_class(SentinelConnectionPool, fail_fast_for) if fail_fast_for else SentinelConnectionPool
    return sentinel.master_for(settings.redis_sentinel_master, connection_pool_class=pool, **options,
                               **master_credentials(settings))


def master_credentials(settings: Settings) -> dict:
    """With Sentinel, IOC_REDIS_URL (when set) gives only the master's username, password and
    database number (its host is the sentinels' answer): ``redis://:PASSWORD@-/0``."""
    if not settings.redis_url:
        return {}
    parsed = redis.connection.parse_url(settings.redis_url)
    return {k: parsed[k] for k in ("username", "password", "db") if parsed.get(k) not in (None, "")}


def describe(settings: Settings) -> str:
    """Where the product's Redis is, for /healthz and messages (no password)."""
    if settings.sentinels:
        hosts = ",".join(f"{h}:{p}" for h, p in settings.sentinels)
        return f"sentinel://{hosts}/{settings.redis_sentinel_master}"
    return mask_url_password(redis_url_for(settings))


def check_reachable(settings: Settings) -> None:
    """Fail with one clear line when the configured Redis cannot be reached."""
    from ioc.errors import UserError
    from ioc.redis_server import check_url

    if not settings.sentinels:
        check_url(redis_url_for(settings))
        return
    client = redis_client(settings, socket_timeout=3, socket_connect_timeout=3, retries=1)
    try:
        client.ping()
    except (redis.RedisError, OSError) as err:
        raise UserError(f"cannot reach the Redis master {settings.redis_sentinel_master!r} through the sentinels "
                        f"{describe(settings)}: {type(err).__name__}: {err}; check IOC_REDIS_SENTINELS, "
                        "IOC_REDIS_SENTINEL_MASTER and IOC_REDIS_SENTINEL_PASSWORD") from None
    finally:
        client.close()
