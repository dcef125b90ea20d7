"""Run the product's processes on one machine and keep them alive (`ioc up`)."""

from __future__ import annotations

import os
import signal
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

    def start(self) -> None:
        env = os.environ | self.env
        # Own process group: Ctrl-C reaches us once and we stop children in order.
        self.process = subprocess.Popen(self.argv, env=env, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

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

    def run(self, on_tick=None) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for child in self.children:
            child.start()
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
