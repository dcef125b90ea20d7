"""Drill 3 — every simulator fault on for ``--minutes`` (default 10), then the SQL history
reconciled exactly against the simulator's own records.

    .venv/bin/python -m bench.drills.all_faults [--minutes 10] [--json FILE]
    .venv/bin/python -m bench.drills.all_faults --minutes 2     # a quick check

Starts the product (bench/drills/stack.py), its clock replaying ``--minutes`` hours at 60× so
records are created and change all along; connectors poll every 3–5 s and reconcile every
``--reconcile`` s (``IOC_RECONCILE_INTERVAL``; production: an hour). Once every source has
read its history, every fault kind of docs/simulator.md § Faults is switched on for every
source at once (``FAULTS``: transport faults at a few per cent of requests, data faults on a
share of responses), plus ``bad_records`` with ``ids``: a few existing records broken for
good (outside the province, a future time) in every response that carries them. Each minute
the drill prints what fired and the sources' states on the wall.

Then the faults are switched off (the broken-for-good records stay broken), the simulator's
clock is frozen, and the drill waits until the SQL history equals the simulator's records
(``GET /_control/records``, simulator/truth.py) — exactly: every ticket, camera and dossier
at its current version, every observation with its value, none twice, none extra — or
``--settle`` seconds pass; then it waits one more reconciliation interval (every source
reconciles after the faults: a reconciliation that read a damaged but valid copy wrote it, and
the next one mends it) and compares again. Checked too:

* every record broken for good is in the quarantine with the reason its variant deserves;
* every refused variant the simulator logged (``GET /_control/faults``) left quarantine rows
  of its reason; the sanitised ones (``script``, ``huge_string``) left no markup and no text
  over 4,000 characters in the history;
* the quarantine counts the status page shows (``ioc connectors status --json``) equal SQL's;
* no process died.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.drills.reconcile import settle, totals, truth_of  # noqa: E402
from bench.drills.stack import SOURCES, DrillAborted, Stack, bounded, report, say  # noqa: E402
from bench.results import Figure, add_json_arg, write_json  # noqa: E402

# Every kind, every source. Transport failures at a few per cent of requests each, so that
# polls (several requests each) still succeed now and then; data faults on a share of responses.
FAULTS = [
    {"kind": "latency", "ms": 50, "jitter_ms": 200, "probability": 0.3},
    {"kind": "timeout", "seconds": 25, "probability": 0.005},
    {"kind": "error", "status": 500, "probability": 0.02},
    {"kind": "error", "status": 503, "retry_after": 2, "probability": 0.02},
    {"kind": "error", "status": 429, "retry_after": 2, "probability": 0.01},
    {"kind": "truncated", "probability": 0.01},
    {"kind": "malformed", "probability": 0.01},
    {"kind": "bad_records", "rate": 0.02, "probability": 0.3},
    {"kind": "duplicates", "rate": 0.05, "probability": 0.3},
    {"kind": "out_of_order", "count": 2, "probability": 0.3},
    {"kind": "clock_skew", "minutes": 30, "probability": 0.05},
    {"kind": "shifting_pages", "count": 5, "probability": 0.2},
]
FOR_GOOD = {"hotline": ["outside_province", "future_timestamp"], "cameras": ["outside_province", "future_timestamp"],
            "procedures": ["future_timestamp"]}
REFUSED = {"missing_id": "missing", "outside_province": "outside_province", "future_timestamp": "future_timestamp"}


# Dossiers the connector reads again: updated within this span of the newest update. A broken
# copy of a dossier nobody re-reads never reaches the connector (its good copy stays, rightly);
# the procedures' reconciliation re-reads two days of updates counted in wall time, and the
# replayed clock starts up to 13 hours behind it. A run that picked a dossier last updated
# three days before failed on "not quarantined" although the product did right.
REREAD = {"procedures": timedelta(hours=12)}


def rereadable(source: str, records: dict) -> list[str]:
    """The ids of ``records`` (id → [updated, status]) that a poll or reconciliation reads again."""
    span = REREAD.get(source)
    if span is None:  # tickets: a week of requests and every open one; cameras: a full sync
        return sorted(records)
    times = {rid: datetime.fromisoformat(v[0]) for rid, v in records.items()}
    newest = max(times.values())
    return sorted(rid for rid, at in times.items() if at >= newest - span)


def for_good_faults(truth: dict) -> tuple[list[dict], dict[str, dict[str, str]]]:
    """``bad_records`` with ``ids``: two existing records per source broken for good, among those
    the connectors read again."""
    specs, expect = [], {}
    for source, variants in FOR_GOOD.items():
        pool = rereadable(source, truth[source])
        ids = pool[len(pool) // 3::max(1, len(pool) // 2)][:2]
        specs.append({"source": source, "kind": "bad_records", "ids": ids, "variants": variants})
        expect[source] = {rid: variants[i % len(variants)] for i, rid in enumerate(ids)}
    return specs, expect


def quarantine_rows(url: str) -> list:
    from sqlalchemy import select

    from ioc.db import models as m
    from ioc.db.session import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            q = m.QuarantineRecord
            return c.execute(select(q.source, q.record_id, q.reason_code, q.reason)).all()
    finally:
        engine.dispose()


def markup_in_history(url: str) -> dict[str, int]:
    """Rows of the history holding markup or a text over 4,000 characters (must be none)."""
    from sqlalchemy import func, or_, select

    from ioc.db import models as m
    from ioc.db.session import make_engine

    def bad(col):
        return or_(col.contains("<script"), col.contains("onerror"), col.contains("javascript:"),
                   func.length(col) > 4000)

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            t, k, d = m.Ticket, m.Camera, m.Dossier
            return {
                "tickets": c.scalar(select(func.count()).where(or_(bad(t.description), bad(t.address), bad(t.agency),
                                                                  bad(t.service_name)))),
                "cameras": c.scalar(select(func.count()).where(or_(bad(k.name), bad(k.address), bad(k.agency)))),
                "dossiers": c.scalar(select(func.count()).where(bad(d.agency))),
            }
    finally:
        engine.dispose()


def status_quarantined(stack: Stack) -> dict[str, int]:
    out = subprocess.run([sys.executable, "-m", "ioc", "connectors", "status", "--json"], env=stack.env,
                         cwd=stack.work, capture_output=True, text=True, timeout=60)
    return {r["source"]: r["quarantined"] for r in json.loads(out.stdout)} if out.returncode == 0 else {}


def run(a) -> list[Figure]:
    stack = Stack(history_days=2, speed=60, replay_hours=a.minutes + 3,
                  extra_env={"IOC_RECONCILE_INTERVAL": str(a.reconcile)})
    figures: list[Figure] = []
    try:
        with bounded(a.timeout):
            say(f"drill 3: every simulator fault on for {a.minutes:g} min, then SQL reconciled with the simulator")
            stack.start()
            specs, expect = for_good_faults(truth_of(stack, ("hotline", "cameras", "procedures")))
            added = stack.sim_post("/_control/faults", [{"source": "all", **f} for f in FAULTS] + specs)["added"]
            kinds = sorted({f["kind"] for f in added})
            say(f"  {len(added)} faults on for all sources: {', '.join(kinds)}; broken for good: "
                + "; ".join(f"{s} {', '.join(f'{i} ({v})' for i, v in e.items())}" for s, e in expect.items()))
            t_on = time.monotonic()
            while (elapsed := time.monotonic() - t_on) < a.minutes * 60:
                time.sleep(min(60.0, a.minutes * 60 - elapsed))
                fired = sum(sum(c.values()) for c in stack.sim_get("/_control/faults")["counts"].values())
                b = stack.badges()
                say(f"  {(time.monotonic() - t_on) / 60:4.1f} min: {fired:,} faults fired; wall: "
                    + ", ".join(f"{s} {b['sources'].get(s)}" for s in SOURCES) + f"; dead: {stack.dead() or 'none'}")
            report_on = stack.sim_get("/_control/faults")
            cleared = stack.sim_delete("/_control/faults?keep_log=1")
            assert not cleared["active"]
            stack.sim_post("/_control/faults", [s for s in specs])  # the broken-for-good records stay broken
            counts = Counter()
            for by in report_on["counts"].values():
                counts.update(by)
            say("  faults fired: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
            say(f"  faults off (broken-for-good records stay broken); clock frozen; waiting for SQL to match "
                f"(reconciliation every {a.reconcile:g} s) …")
            broken = {s: set(e) for s, e in expect.items()}
            diffs, took = settle(stack, a.settle, broken=broken)
            matched = all(d.exact for d in diffs.values())
            # A reconciliation that read a damaged but valid copy (a name with a sanitised script, a
            # value ÷1000) wrote it authoritatively; the next one mends it. SQL can match the versions
            # before any reconciliation ran after the faults: wait until each connector has run one.
            say(f"  SQL {'matched' if matched else 'did not match'} after {took:.0f} s; now one more reconciliation "
                f"interval ({a.reconcile:g} s + 30 s), so that every source reconciles after the faults …")
            time.sleep(a.reconcile + 30)
            diffs, _ = settle(stack, 60, broken=broken)
            for d in diffs.values():
                say("  " + d.line())
            lost, dups, stale, extra = totals(diffs)
            # the quarantine
            rows = quarantine_rows(stack.db_url)
            by_id = {(s, rid): code for s, rid, code, _ in rows}
            missing_for_good = [(s, rid, v) for s, e in expect.items() for rid, v in e.items()
                                if REFUSED[v] not in by_id.get((s, rid), "")]
            say(f"  broken for good: {sum(len(e) for e in expect.values())} records; in the quarantine with the "
                f"right reason: {sum(len(e) for e in expect.values()) - len(missing_for_good)}"
                + (f"; NOT: {missing_for_good}" if missing_for_good else ""))
            injected = Counter((e["source"], e.get("variant")) for e in report_on.get("injected", [])
                               if e.get("kind") == "bad_records")
            held = Counter((s, code) for s, _rid, code, _ in rows)
            variant_gaps = []
            for (source, variant), n in sorted(injected.items()):
                if variant in REFUSED:
                    have = sum(v for (s, c), v in held.items() if s == source and REFUSED[variant] in c)
                    if have == 0:
                        variant_gaps.append((source, variant, n))
            say("  bad records the simulator logged (source, variant: copies): "
                + ", ".join(f"{s}/{v} {n}" for (s, v), n in sorted(injected.items())))
            say("  quarantine rows by reason: " + ", ".join(f"{s}/{c} {n}" for (s, c), n in sorted(held.items())))
            markup = markup_in_history(stack.db_url)
            shown = status_quarantined(stack)
            sql_counts = Counter(s for s, *_ in rows)
            count_gaps = {s: (shown.get(s), sql_counts.get(s, 0)) for s in SOURCES
                          if shown.get(s) != sql_counts.get(s, 0)}
            dead = stack.dead()
            say(f"  markup or over-long text in the history: {markup}; quarantine counts shown (status) vs SQL: "
                f"{count_gaps or 'equal'}; processes that died: {dead or 'none'}")
            figures = [
                Figure("faults fired", sum(counts.values()), "faults", note=", ".join(kinds)),
                Figure("records lost", lost, "records", 0, note="after faults off, reconciliation included"),
                Figure("duplicates", dups, "records", 0),
                Figure("stale records", stale, "records", 0, note="older or damaged version kept"),
                Figure("extra records", extra, "records", 0, note="in SQL, unknown upstream"),
                Figure("seconds until SQL matched exactly", took if matched else None, "s",
                       a.reconcile + 60, note=f"faults off → exact; one reconciliation interval ({a.reconcile:g} s) "
                                              "+ a minute for back-off and the last polls"),
                Figure("broken-for-good records not quarantined with their reason", len(missing_for_good), "records",
                       0, note=str(missing_for_good) if missing_for_good else ""),
                Figure("refused variants without quarantine rows", len(variant_gaps), "variants", 0,
                       note=str(variant_gaps) if variant_gaps else ""),
                Figure("history rows with markup or over-long text", sum(markup.values()), "rows", 0),
                Figure("quarantine counts shown ≠ SQL", len(count_gaps), "sources", 0,
                       note=str(count_gaps) if count_gaps else ""),
                Figure("process crashed", len(dead), "processes", 0, note=str(dead) if dead else ""),
            ]
    except DrillAborted as e:
        say(f"  ABORTED: {e}")
        figures.append(Figure("finished within the time limit", 0, "bool", 1, "higher", note=str(e)))
    finally:
        stack.stop()
        stack.cleanup(a.keep)
    return figures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10, help="how long every fault stays on")
    ap.add_argument("--reconcile", type=float, default=120, help="IOC_RECONCILE_INTERVAL for the connectors (s)")
    ap.add_argument("--settle", type=float, default=480, help="seconds SQL may take to match after the faults")
    ap.add_argument("--timeout", type=float, default=None, help="the whole drill (default: minutes + 15 min)")
    ap.add_argument("--keep", action="store_true")
    add_json_arg(ap)
    a = ap.parse_args(argv)
    a.timeout = a.timeout or a.minutes * 60 + 900
    started = time.time()
    try:
        figures = run(a)
    except KeyboardInterrupt:
        say("interrupted: everything the drill started was stopped")
        return 130
    ok = report(f"drill 3 (every fault for {a.minutes:g} min)", figures)
    write_json(a.json, "drill-all-faults", figures, started=started,
               context={"minutes": a.minutes, "reconcile_s": a.reconcile, "faults": FAULTS, "passed": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
