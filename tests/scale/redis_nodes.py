"""Real redis-server processes on loopback ports for the scale tests: a single-node cluster
(cluster mode, owning all 16384 slots) and a Sentinel set (a master, a replica, three
sentinels). Each process is ours, started in its own folder and stopped by its pid."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


def free_port(highest: int = 65535) -> int:
    """A free loopback port; ``highest``: at most this (a cluster node also listens on port + 10000)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port <= highest:
            return port
        with socket.socket() as s:  # the kernel's ephemeral range starts high: try below it
            try:
                s.bind(("127.0.0.1", random.randint(20000, highest)))
            except OSError:
                continue
            return s.getsockname()[1]


def redis_binary() -> str:
    from ioc.redis_server import find_redis_binary

    return find_redis_binary()


@dataclass
class Node:
    """One redis-server (or sentinel) process we started."""

    port: int
    directory: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, **kw) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, **kw)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_node(directory: Path, *args: str, port: int | None = None, config: str | None = None) -> Node:
    """redis-server on 127.0.0.1:port with ``args`` (``config``: a config file's text, for
    sentinels, which rewrite their file)."""
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    argv = [redis_binary()]
    if config is not None:
        conf = directory / "node.conf"
        conf.write_text(config)
        argv.append(str(conf))
    argv += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
             "--appendonly", "no", "--logfile", str(directory / "redis.log"), *args]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    node = Node(port, directory, proc)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = directory / "redis.log"
            raise RuntimeError(f"redis-server exited: {log.read_text()[-500:] if log.exists() else ''}")
        try:
            if node.client(socket_connect_timeout=0.5).ping():
                return node
        except redis.RedisError:
            time.sleep(0.05)
    node.stop()
    raise TimeoutError(f"redis-server on port {port} did not answer")


def start_cluster_node(directory: Path) -> Node:
    """A redis-server in cluster mode that owns every slot: a plain client can use it (no
    MOVED), and it answers CROSSSLOT to any multi-key command, transaction or script whose keys
    hash to different slots — exactly what a real cluster refuses."""
    # redis-server refuses a cluster port above 55535 (its bus listens on port + 10000)
    node = start_node(directory, "--cluster-enabled", "yes", "--cluster-config-file",
                      str(directory / "nodes.conf"), port=free_port(highest=55535))
    c = node.client()
    c.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
    deadline = time.monotonic() + 15
    while b"cluster_state:ok" not in c.execute_command("CLUSTER", "INFO"):
        if time.monotonic() > deadline:
            raise TimeoutError("cluster node did not reach cluster_state:ok")
        time.sleep(0.05)
    c.close()
    return node


def crossslot_errors(node: Node) -> int:
    """How many commands this server refused with CROSSSLOT since the last CONFIG RESETSTAT."""
    stats = node.client().info("errorstats")
    return int((stats.get("errorstat_CROSSSLOT") or {}).get("count", 0))


@dataclass
class SentinelSet:
    """A master, a replica and three sentinels monitoring them as ``name``."""

    name: str
    master: Node
    replica: Node
    sentinels: list[Node] = field(default_factory=list)

    @property
    def addresses(self) -> str:
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def master_port(self) -> int:
        host, port = self.sentinels[0].client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)
        return int(port)

    def failover(self) -> int:
        """Ask a sentinel to promote the replica; returns the old master's port."""
        old = self.master_port()
        self.sentinels[0].client().execute_command("SENTINEL", "FAILOVER", self.name)
        return old

    def wait_promoted(self, old_port: int, timeout: float = 30.0) -> int:
        """Until every sentinel names a new master and it answers as one; its port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ports = {int(s.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)[1])
                         for s in self.sentinels}
                if len(ports) == 1 and old_port not in ports:
                    port = ports.pop()
                    role = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).role()[0]
                    if role == b"master":
                        return port
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"no new master for {self.name} within {timeout:.0f} s")

    def stop(self) -> None:
        for n in [*self.sentinels, self.replica, self.master]:
            n.stop()


def start_sentinel_set(directory: Path, name: str = "ioc") -> SentinelSet:
    master = start_node(directory / "master")
    replica = start_node(directory / "replica", "--replicaof", "127.0.0.1", str(master.port))
    deadline = time.monotonic() + 15
    while replica.client().info("replication").get("master_link_status") != "up":
        if time.monotonic() > deadline:
            raise TimeoutError("replica did not sync with the master")
        time.sleep(0.05)
    sset = SentinelSet(name, master, replica)
    for i in range(3):
        conf = (f"sentinel monitor {name} 127.0.0.1 {master.port} 2\n"
                f"sentinel down-after-milliseconds {name} 1000\n"
                f"sentinel failover-timeout {name} 5000\n"
                f"sentinel parallel-syncs {name} 1\n")
        sset.sentinels.append(start_node(directory / f"sentinel{i}", "--sentinel", config=conf))
    # until every sentinel knows the replica and the other sentinels (a failover needs both)
    deadline = time.monotonic() + 30
    while True:
        ok = True
        for s in sset.sentinels:
            info = s.client().sentinel_master(name)
            ok &= int(info["num-slaves"]) >= 1 and int(info["num-other-sentinels"]) >= 2
        if ok:
            return sset
        if time.monotonic() > deadline:
            sset.stop()
            raise TimeoutError("sentinels did not discover each other and the replica")
        time.sleep(0.2)


def cleanup(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
