"""`ioc up`'s supervisor: a child with a ready port is listening before the next one starts."""

from __future__ import annotations

import socket
import sys
import time

from ioc.supervisor import Child, Supervisor


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_next_child_starts_once_the_port_answers(tmp_path):
    port, flag = _free_port(), tmp_path / "connected"
    server = ("import socket, time; time.sleep(1.5); s = socket.socket(); "
              f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(30)")
    # connects once, at start: refused (no file) if the server is not listening yet
    client = (f"import socket, time; socket.create_connection(('127.0.0.1', {port}), timeout=2); "
              f"open({str(flag)!r}, 'w').write('ok'); time.sleep(30)")
    children = [Child("server", [sys.executable, "-c", server], ready_port=port),
                Child("client", [sys.executable, "-c", client])]
    sup = Supervisor(children)
    try:
        sup.start_all(ready_timeout=20)
        for _ in range(50):  # the client writes its file right after connecting
            if flag.exists():
                break
            time.sleep(0.1)
        assert flag.read_text() == "ok"
    finally:
        for c in reversed(children):
            c.stop(timeout=5)


def test_a_child_that_dies_is_not_waited_for(tmp_path):
    dead = Child("dead", [sys.executable, "-c", "raise SystemExit(3)"], ready_port=_free_port())
    dead.start()
    assert dead.wait_ready(timeout=20) is False
    assert dead.process.poll() == 3
