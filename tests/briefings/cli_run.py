"""Running `ioc …` in the test process (no interpreter start-up and imports per call)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_ioc(*args: str, env: dict[str, str]) -> CliResult:
    """`ioc ARGS…` in this process (ioc.cli.main: the same error handling as the console
    script), with ``env``'s IOC_ variables as the only ones set: no interpreter start-up and
    imports per call. A test that needs separate processes (two schedulers) spawns them."""
    import contextlib
    import io

    from ioc.cli import main

    saved = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    code = 0
    old_argv = sys.argv
    try:
        for k in [k for k in os.environ if k.startswith("IOC_")]:
            del os.environ[k]
        os.environ.update({k: v for k, v in env.items() if k.startswith("IOC_")})
        sys.argv = ["ioc", *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old_argv
        os.environ.clear()
        os.environ.update(saved)
    return CliResult(code, out.getvalue(), err.getvalue())
