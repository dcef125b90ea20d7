"""Run the product's processes on one machine and keep them alive (`ioc up`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from rich.console import Console

console = Console(stderr=True)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    restarts: int = 0
    next_start: float = 0.0
    # the TCP port this child serves: the children after it start once it accepts connections
    # (the connectors' first poll must not meet a simulator that is still importing)
    ready_port: int | None = None

    def start(self) -> None:
        env = os.environ | self.env
        # Own process group: Ctrl-C reaches us once and we stop children in order.
        self.process = subprocess.Popen(self.argv, env=env, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float = 30.0, stopping=lambda: False) -> bool:
        """Until ``ready_port`` accepts a connection (True), or the child exits, the wait is
        cut short or ``timeout`` passes (False: the next children start anyway)."""
        if self.ready_port is None:
            return True
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.alive() and not stopping():
            try:
                with socket.create_connection(("127.0.0.1", self.ready_port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.2)
        return False

    def stop(self, timeout: float = 10) -> None:
        if not self.alive():
            return
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def ioc_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ioc", *args]


class Supervisor:
    """Starts children, restarts one that dies (with capped backoff), stops all on a signal."""

    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self._stopping = False

    def _on_signal(self, signum, _frame) -> None:
        self._stopping = True

    def start_all(self, ready_timeout: float = 30.0) -> None:
        """Start the children in order; one with a ``ready_port`` is waited for."""
        for child in self.children:
            if self._stopping:
                return
            child.start()
            if not child.wait_ready(ready_timeout, lambda: self._stopping):
                console.print(f"[yellow]{child.name} is not answering on port {child.ready_port}; "
                              "starting the rest anyway[/]")

    def run(self, on_tick=None) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        self.start_all()
        try:
            while not self._stopping:
                now = time.monotonic()
                for child in self.children:
                    if child.alive():
                        continue
                    if child.next_start == 0.0:
                        code = child.process.returncode if child.process else None
                        delay = min(60.0, 2.0 ** min(child.restarts, 6))
                        console.print(f"[yellow]{child.name} stopped (exit {code}); restarting in {delay:.0f} s[/]")
                        child.next_start = now + delay
                    elif now >= child.next_start:
                        child.restarts += 1
                        child.next_start = 0.0
                        child.start()
                if on_tick:
                    on_tick()
                time.sleep(0.5)
        finally:
            console.print("Stopping …")
            for child in reversed(self.children):
                child.stop()
