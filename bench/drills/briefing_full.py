"""Drill 4 — the briefing folder is full: the briefing fails loudly.

    .venv/bin/python -m bench.drills.briefing_full [--json FILE]

Starts the product (bench/drills/stack.py) with the briefing scheduler as the Procfile runs it
(``ioc briefing schedule``: the daily briefing of yesterday is due, catch-up and weekly off,
a look every 2 s). Before that the briefing folder (``IOC_DATA_DIR/briefings``) is made
unusable:

* as root: a 1 MB tmpfs mounted there and filled up to its last few KB with a filler file, so
  the PDF (≈ 100–300 KB) meets "No space left on device" when it is written;
* otherwise: ``chmod 555`` on the folder (an unwritable folder; the build refuses it before it
  reaches the database, so by design it is not recorded in SQL — docs/briefings.md — and this
  drill then reports that as a failure to see the alert).

Expected, and checked: the attempt is recorded ``failed`` in SQL with a clear reason (``write``,
"No space left on device"); the alert ``briefing:daily:{yesterday}`` is active in ``ioc kpi
alerts --json`` and on the wall's ticker (``GET /api/views/wall``, the read model over HTTP);
nothing half-written is left in the folder (no PDF, no temp file); the scheduler process is
still running; the other processes too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.drills.stack import DrillAborted, Stack, bounded, report, say  # noqa: E402
from bench.results import Figure, add_json_arg, write_json  # noqa: E402

FILLER = "filler.bin"
LEFT_FREE = 16 * 1024  # bytes left on the tmpfs: far less than a briefing PDF


def make_full(folder: Path) -> str:
    """Make ``folder`` unusable for a PDF; returns how."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        try:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], check=True,
                           capture_output=True, text=True, timeout=30)
            st = os.statvfs(folder)
            free = st.f_bavail * st.f_frsize
            with open(folder / FILLER, "wb") as f:
                f.write(b"\0" * max(0, free - LEFT_FREE))
            st = os.statvfs(folder)
            return f"tmpfs of 1 MB, {st.f_bavail * st.f_frsize:,} bytes left"
        except (subprocess.CalledProcessError, OSError) as e:
            say(f"  could not mount a tmpfs ({getattr(e, 'stderr', '') or e}); falling back to chmod 555")
    os.chmod(folder, 0o555)
    return "chmod 555 (not root: no tmpfs)"


def undo_full(folder: Path) -> None:
    with contextlib.suppress(Exception):
        os.chmod(folder, 0o755)
    if os.path.ismount(folder):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def briefing_rows(url: str, kind: str, day) -> list:
    from sqlalchemy import select

    from ioc.db import models as m
    from ioc.db.session import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return c.execute(select(m.Briefing.id, m.Briefing.status, m.Briefing.reason, m.Briefing.error,
                                    m.Briefing.path).where(m.Briefing.kind == kind, m.Briefing.last_day == day)
                             .order_by(m.Briefing.id)).all()
    finally:
        engine.dispose()


def cli_alerts(stack: Stack) -> dict:
    out = subprocess.run([sys.executable, "-m", "ioc", "kpi", "alerts", "--json"], env=stack.env, cwd=stack.work,
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else {}


def run(a) -> list[Figure]:
    stack = Stack(history_days=3, speed=60, replay_hours=6)
    folder = stack.work / "briefings"
    figures: list[Figure] = []
    try:
        with bounded(a.timeout):
            say("drill 4: the briefing folder is full")
            how = make_full(folder)
            say(f"  briefing folder {folder}: {how}")
            stack.start()
            from zoneinfo import ZoneInfo

            day = (datetime.now(ZoneInfo(stack.settings.timezone)) - timedelta(days=1)).date()
            key = f"briefing:daily:{day.isoformat()}"
            t0 = time.monotonic()
            stack.spawn("briefings", [sys.executable, "-m", "ioc", "briefing", "schedule", "--daily", "00:00",
                                      "--weekly", "off", "--catch-up-days", "0", "--every", "2"])
            rows = []
            while time.monotonic() - t0 < a.wait and not any(r.status == "failed" for r in rows):
                rows = briefing_rows(stack.db_url, "daily", day)
                time.sleep(1)
            failed_after = time.monotonic() - t0
            say(f"  SQL records of the daily briefing of {day:%d/%m/%Y}: "
                f"{[(r.id, r.status, r.reason, r.error) for r in rows] or 'none'} ({failed_after:.0f} s)")
            alert = ticker = None
            t1 = time.monotonic()
            while time.monotonic() - t1 < a.wait and (alert is None or ticker is None):
                if alert is None:
                    active = cli_alerts(stack).get("active") or []
                    alert = next((x for x in active if x.get("key") == key), None)
                if ticker is None:
                    with contextlib.suppress(Exception):
                        body = stack.get("/api/views/wall?lang=en&focus=hotline_overdue").json()
                        text = json.dumps((body.get("panels") or {}).get("alerts"), ensure_ascii=False)
                        if f"Daily briefing {day:%d/%m/%Y}" in text:
                            ticker = time.monotonic() - t0
                if alert is None or ticker is None:
                    time.sleep(2)
            say(f"  `ioc kpi alerts --json`: {key} {'active: ' + repr(alert.get('message')) if alert else 'NOT active'}")
            say(f"  wall ticker (GET /api/views/wall, read model over HTTP): "
                f"{'shows it after %.0f s' % ticker if ticker is not None else 'does NOT show it'}")
            left = sorted(p.name for p in folder.iterdir() if p.name != FILLER) if folder.exists() else []
            say(f"  files left in the briefing folder besides the filler: {left or 'none'}")
            dead = stack.dead()
            say(f"  processes that died: {dead or 'none'}; scheduler log: "
                f"{stack.log_lines('briefings', 'failed')} 'failed' line(s)")
            failed = [r for r in rows if r.status == "failed"]
            clear = bool(failed) and failed[-1].reason == "write" and "No space left" in (failed[-1].error or "")
            figures = [
                Figure("attempt recorded failed in SQL", 1.0 if failed else 0.0, "bool", 1, "higher",
                       note=f"reason {failed[-1].reason!r}: {failed[-1].error}" if failed else how),
                Figure("clear reason (write: No space left on device)", 1.0 if clear else 0.0, "bool", 1, "higher"),
                Figure("briefing passed or offered", sum(r.status == "done" for r in rows), "records", 0),
                Figure("alert active (ioc kpi alerts)", 1.0 if alert else 0.0, "bool", 1, "higher", note=key),
                Figure("alert on the wall's ticker seconds", ticker, "s", 60,
                       note="from the scheduler's start; docs/briefings.md: within a minute of the failure"),
                Figure("files left half-written", len(left), "files", 0, note=", ".join(left)),
                Figure("process crashed", len(dead), "processes", 0, note=str(dead) if dead else ""),
            ]
    except DrillAborted as e:
        say(f"  ABORTED: {e}")
        figures.append(Figure("finished within the time limit", 0, "bool", 1, "higher", note=str(e)))
    finally:
        stack.stop()
        undo_full(folder)
        stack.cleanup(a.keep)
    return figures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wait", type=float, default=120, help="seconds to wait for the failure and for the alert")
    ap.add_argument("--timeout", type=float, default=400)
    ap.add_argument("--keep", action="store_true")
    add_json_arg(ap)
    a = ap.parse_args(argv)
    started = time.time()
    try:
        figures = run(a)
    except KeyboardInterrupt:
        say("interrupted: everything the drill started was stopped")
        return 130
    ok = report("drill 4 (briefing folder full)", figures)
    write_json(a.json, "drill-briefing-full", figures, started=started, context={"passed": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
