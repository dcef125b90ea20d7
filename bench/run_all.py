"""Run every benchmark, gather their figures (bench/results.py) and write docs/performance.md:
every figure beside its target, the machine's own ceilings measured in the same run
(bench/ceilings.py), and each figure's ratio to its ceiling.

    bench/run_all                          # everything: the reference figures (takes well over an hour)
    bench/run_all --quick --no-soak        # small sizes: a smoke check, not the reference figures
    bench/run_all --only geo,web --out /tmp/performance.md
    bench/run_all --quick --from-logs DIR  # the document again from the JSON an earlier run left in DIR

Each bench runs as its own process (``python bench/<name>.py … --json FILE``); its output goes
to ``<logs>/<name>.txt`` (a temp dir unless ``--logs``). A bench that fails is reported as
failed, with the end of its output, and the others still run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import read_json  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
VIEWERS = "200"  # the wall's target level (bench/web.py); the bare endpoint is driven at the same
# name: (full-run arguments, --quick arguments); the order is the order they run in
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "ingest": ([], ["--days", "3", "--ticket-scale", "1", "--scale", "1"]),
    "kpi": ([], ["--scale", "0.02", "--n", "2", "--cold", "1", "--periods", "1"]),
    "briefing": ([], ["--runs", "1"]),
    "geo": ([], ["--repeat", "1", "--points", "10000", "--addresses", "2000"]),
    "sim_generate": ([], ["--scales", "1", "--days", "30"]),
    "sim_backfill": ([], ["--scale", "1", "--history-days", "30", "--observations", "50000"]),
    "web": (["--viewers", VIEWERS], ["--viewers", "20", "--seconds", "10", "--changes", "3", "--minutes", "2",
                                     "--history-days", "3"]),
    "map": ([], ["--tickets", "5000", "--runs", "2", "--repeat", "2"]),
    "drills": ([], ["--quick"]),
    "soak": ([], ["--minutes", "2", "--sample-every", "10", "--last-minutes", "1"]),
}
DETAILED = {"web": "performance-web.md", "map": "performance-map.md"}


# --- running ---------------------------------------------------------------------------------------


def run_bench(name: str, argv: list[str], logs: Path) -> dict:
    """Run one bench; its figures document, or a stand-in saying why there is none."""
    out = logs / f"{name}.json"
    out.unlink(missing_ok=True)
    cmd = [*argv, "--json", str(out)]
    print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
    t = time.monotonic()
    with open(logs / f"{name}.txt", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ) | {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        code = proc.wait()
    return gathered(name, argv, logs, code, time.monotonic() - t)


def gathered(name: str, argv: list[str], logs: Path, code: int | None, took: float | None) -> dict:
    """The figures a bench wrote to ``logs``; ``code``/``took`` None: an earlier run's (--from-logs),
    its duration then the bench's own ``seconds``."""
    out = logs / f"{name}.json"
    if (code in (0, None)) and out.exists():
        doc = read_json(out)
    else:
        txt = logs / f"{name}.txt"
        tail = txt.read_text(errors="replace").strip().splitlines()[-6:] if txt.exists() else []
        doc = {"bench": name, "figures": [], "context": {}, "tail": tail,
               "failed": (f"exit {code}" if code is not None else "no figures in " + str(logs))
               + ("" if out.exists() else ", no figures written")}
    doc["took"] = took if took is not None else doc.get("seconds", 0.0)
    doc["command"] = " ".join(["python", *[str(Path(c).relative_to(ROOT)) if c.startswith(str(ROOT)) else c
                                           for c in argv[1:]]])
    if code is None:
        doc["origin"] = f"not run now: the figures of an earlier run (started {doc.get('started', '?')}) in `{logs}`"
    return doc


def bench_argv(name: str, quick: bool) -> list[str] | None:
    full, small = BENCHES[name]
    if name == "drills":  # written by another branch: run it only where it exists
        if importlib.util.find_spec("bench.drills") is None:
            return None
        return [sys.executable, "-m", "bench.drills", *(small if quick else full)]
    return [sys.executable, str(ROOT / "bench" / f"{name}.py"), *(small if quick else full)]


def ceilings_argv(selected: list[str], quick: bool, explicit: bool) -> list[str] | None:
    """The ceilings the selected benches are compared with (all when ``ceilings`` was named)."""
    parts = []
    if explicit or "ingest" in selected:
        parts += ["redis", "sql"]
    if explicit or "web" in selected:
        parts.append("endpoint")
    if not parts:
        return None
    viewers = dict(zip(BENCHES["web"][1][::2], BENCHES["web"][1][1::2]))["--viewers"] if quick else VIEWERS
    return [sys.executable, str(ROOT / "bench" / "ceilings.py"), "--only", ",".join(parts), "--viewers", viewers,
            *(["--quick"] if quick else [])]


# --- the document -----------------------------------------------------------------------------------


def num(x: float | int | None, digits: int | None = None) -> str:
    """Vietnamese number format (1.234,5): a thousands dot, a decimal comma."""
    if x is None:
        return "—"
    auto = digits is None
    if auto:
        digits = (0 if float(x).is_integer() or abs(x) >= 100 else 1 if abs(x) >= 10 else 2 if abs(x) >= 1
                  else 3)
    s = f"{x:,.{digits}f}"
    if auto and "." in s:  # 5.30 → 5,3; 0.050 → 0,05
        s = s.rstrip("0").rstrip(".")
    if s.lstrip("-").strip("0.,") == "":  # no "-0"
        s = s.lstrip("-")
    return s.replace(",", "\0").replace(".", ",").replace("\0", ".")


def percent(share: float) -> str:
    x = 100 * share
    return f"{num(x, 0 if x >= 10 else 1)} %"


def machine() -> dict:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 2**20
    except OSError:
        pass
    return {"cores": os.cpu_count(), "model": model, "ram_gib": ram, "load": os.getloadavg(),
            "python": platform.python_version(), "kernel": platform.release()}


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        branch = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        return f"`{sha}` ({branch}{', with uncommitted changes' if dirty else ''})"
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def ceiling_values(docs: dict[str, dict]) -> dict[str, float]:
    c = docs.get("ceilings") or {}
    return {f["name"]: f["value"] for f in c.get("figures", []) if f["value"] is not None}


def compare(bench: str, fig: dict, ceil: dict[str, float], context: dict) -> str | None:
    """The figure against its ceiling, as a headline phrase; None when no ceiling applies."""
    v = fig["value"]
    if v is None:
        return None
    name = fig["name"]
    if bench == "ingest" and fig["unit"] == "records/s":
        parts = []
        redis = ceil.get("raw pipelined Redis HSET+XADD")
        if redis:
            parts.append(f"{percent(v / redis)} of raw pipelined Redis")
        sql_name = ("bulk SQL insert, PostgreSQL COPY" if context.get("database") == "postgresql"
                    else "bulk SQL insert, SQLite executemany")
        if ceil.get(sql_name):
            parts.append(f"{percent(v / ceil[sql_name])} of {sql_name.removeprefix('bulk SQL insert, ')}")
        return "; ".join(parts) or None
    if bench == "web" and fig["unit"] == "ms" and (name.startswith("wall poll p95") or name.startswith("ping p95")):
        viewers = name.rsplit(", ", 1)[-1]  # "200 viewers"
        bare = ceil.get(f"bare endpoint p95, {viewers}")
        if bare:
            return f"{num(v / bare, 1)}× a bare endpoint (p95 {num(bare, 1)} ms at {viewers})"
    return None


def met_text(fig: dict) -> str:
    if fig["target"] is None:
        return ""
    sign = "≤" if fig["better"] == "lower" else "≥"
    verdict = {True: "met", False: "**MISSED**", None: "not measured"}[fig["met"]]
    return f"{sign} {num(fig['target'])} — {verdict}"


def write_doc(path: Path, docs: dict[str, dict], order: list[str], *, quick: bool, started: datetime,
              argv: list[str], skipped: dict[str, str], mach: dict) -> None:
    ceil = ceiling_values(docs)
    L: list[str] = ["# Performance — every benchmark, one run", ""]
    if quick:
        L += ["> **Quick run, not the reference figures**: small sizes and short windows (`--quick`), a smoke "
              "check that the benches still run. The reference figures come from a full `bench/run_all` on a "
              "quiet machine.", ""]
    L += [f"Written by `bench/run_all` ({' '.join(argv) or 'no options'}); do not edit by hand: run it again.", "",
          f"- Date: {started.astimezone(TZ):%d/%m/%Y %H:%M} (Asia/Ho_Chi_Minh); the whole run took "
          f"{num(sum(d.get('took', 0) for d in docs.values()) / 60, 1)} min",
          f"- Machine: {mach['cores']} cores, {mach['model']}, {num(mach['ram_gib'], 1)} GiB RAM; Linux "
          f"{mach['kernel']}, Python {mach['python']}; load average {mach.get('load_when', 'at the start')} "
          + " / ".join(num(x, 2) for x in mach["load"]),
          f"- Git commit{mach.get('commit_when', '')}: {git_commit()}",
          "- Detailed reports (how each page is measured, where the time goes, history): "
          "[performance-web.md](performance-web.md) (the wall `/wall`, the mobile view `/m`), "
          "[performance-map.md](performance-map.md) (the sector map `/map`).",
          "- The machine may be shared: each bench prints how busy it was; see its log for that line.", ""]

    # headlines: each figure against its ceiling
    heads = []
    for name in order:
        d = docs.get(name) or {}
        for f in d.get("figures", []):
            c = compare(name, f, ceil, d.get("context", {}))
            if c:
                heads.append(f"- {name}: {f['name']} {num(f['value'])} {f['unit']} — **{c}**")
    L += ["## Against the ceilings", ""]
    L += heads or ["No figure of this run has a ceiling to compare with (the ceilings belong to `ingest` and "
                   "`web`)."]
    L.append("")

    missed = [(n, f) for n in order for f in (docs.get(n) or {}).get("figures", []) if f["met"] is False]
    L += ["## Missed targets", ""]
    if missed:
        L += [f"- **{n}: {f['name']} = {num(f['value'])} {f['unit']}**, target "
              f"{'≤' if f['better'] == 'lower' else '≥'} {num(f['target'])} {f['unit']}"
              + (f" ({f['note']})" if f["note"] else "") for n, f in missed]
    else:
        L.append("None: every figure with a target that was measured met it.")
    failed = [n for n in order if (docs.get(n) or {}).get("failed")]
    unmeasured = [(n, f) for n in order for f in (docs.get(n) or {}).get("figures", [])
                  if f["target"] is not None and f["value"] is None]
    if failed or unmeasured:
        L.append("")
        L += [f"- **{n} failed** ({docs[n]['failed']}): figures missing" for n in failed]
        L += [f"- {n}: {f['name']} not measured ({f['note'] or 'no value'})" for n, f in unmeasured]
    L.append("")

    if "ceilings" in docs:
        d = docs["ceilings"]
        L += ["## Ceilings (this machine, this run: bench/ceilings.py)", "",
              f"Took {num(d.get('took', 0), 0)} s. " + ("FAILED: " + d["failed"] if d.get("failed") else ""), "",
              "| Ceiling | Value | Unit | Note |", "|---|---:|---|---|"]
        L += [f"| {f['name']} | {num(f['value'])} | {f['unit']} | {f['note']} |" for f in d["figures"]]
        L.append("")

    L += ["## Benchmarks", "", "| Bench | Took | Figures | Missed |", "|---|---:|---:|---:|"]
    for name in order:
        if name in skipped:
            L.append(f"| {name} | — | {skipped[name]} | |")
            continue
        d = docs[name]
        n_missed = sum(1 for f in d["figures"] if f["met"] is False)
        L.append(f"| [{name}](#{name}) | {num(d['took'] / 60, 1)} min | "
                 f"{'FAILED: ' + d['failed'] if d.get('failed') else len(d['figures'])} | {n_missed or ''} |")
    L.append("")
    for name in order:
        if name in skipped:
            continue
        d = docs[name]
        L += [f"### {name}", "", f"`{d['command']}`" + (f" — {d['origin']}" if d.get("origin") else "")
              + f" — took {num(d['took'], 0)} s"
              + (f"; detailed report: [{DETAILED[name]}]({DETAILED[name]})" if name in DETAILED else ""), ""]
        if d.get("failed"):
            L += [f"**FAILED** ({d['failed']}); the end of its output:", "", "```", *d["tail"], "```", ""]
            continue
        L += ["| Figure | Value | Unit | Target | Against the ceiling | Note |", "|---|---:|---|---|---|---|"]
        for f in d["figures"]:
            L.append(f"| {f['name']} | {num(f['value'])} | {f['unit']} | {met_text(f)} | "
                     f"{compare(name, f, ceil, d.get('context', {})) or ''} | {f['note']} |")
        if name == "soak":
            L += ["", *soak_table(d)]
        L.append("")
    path.write_text("\n".join(L).rstrip() + "\n", encoding="utf-8")


def soak_table(d: dict) -> list[str]:
    """The soak's RSS over time (MiB), a row every ~5 minutes, and its rule."""
    ctx = d.get("context") or {}
    rows, names = ctx.get("rss") or [], ctx.get("names") or []
    if not rows:
        return []
    step = max(1, round(300 / max(ctx.get("sample_every", 30), 1)))
    if len(rows) / step < 6:
        step = max(1, len(rows) // 6)
    pick = rows[::step] + ([rows[-1]] if (len(rows) - 1) % step else [])
    out = [f"RSS over time (MiB; {num(ctx.get('minutes'))} min at simulator scale {num(ctx.get('scale'))}; rule: "
           f"{ctx.get('rule')}; {ctx.get('machine', '')}). A process's figure includes its children (gunicorn's "
           "master alone: each worker has its own column); Chromium's is the sum over its processes, shared pages "
           "counted in each.", "",
           "| min | data version | " + " | ".join(names) + " |", "|" + "---:|" * (len(names) + 2)]
    for t, row, extra in pick:
        out.append(f"| {num(t, 1)} | {extra.get('version')} | " + " | ".join(num(row.get(n)) for n in names) + " |")
    return out


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, short windows: a smoke check")
    ap.add_argument("--only", help=f"comma list of benches ({', '.join(BENCHES)}; 'ceilings' for all ceilings)")
    ap.add_argument("--no-soak", action="store_true", help="leave out the 30-minute soak")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md", help="the document to write")
    ap.add_argument("--logs", type=Path, help="keep each bench's output and JSON here (default: a temp dir)")
    ap.add_argument("--from-logs", type=Path, metavar="DIR",
                    help="run nothing: write the document from the JSON files an earlier run left in DIR (--logs)")
    ap.add_argument("--soak-from", type=Path, metavar="FILE",
                    help="take the soak's figures from an earlier `bench/soak.py --json FILE` instead of running "
                         "it (the document says so)")
    a = ap.parse_args()
    names = [x.strip() for x in a.only.split(",")] if a.only else list(BENCHES)
    unknown = set(names) - set(BENCHES) - {"ceilings"}
    if unknown:
        ap.error(f"unknown benches: {', '.join(sorted(unknown))} (known: {', '.join(BENCHES)}, ceilings)")
    explicit_ceilings = "ceilings" in names
    selected = [n for n in BENCHES if n in names and not (n == "soak" and a.no_soak)]
    skipped = {"soak": "left out (--no-soak)"} if a.no_soak and "soak" in names else {}

    started = datetime.now().astimezone()
    mach = machine()  # the load average before our own processes start
    if a.from_logs:
        mach["load_when"] = "when this document was written (the benches ran earlier)"
        mach["commit_when"] = " when this document was written"
    logs = a.logs or Path(tempfile.mkdtemp(prefix="ioc-run-all-"))
    logs.mkdir(parents=True, exist_ok=True)
    docs: dict[str, dict] = {}
    order = []
    cargv = ceilings_argv(selected, a.quick, explicit_ceilings)
    def run(name: str, argv: list[str]) -> dict:
        return gathered(name, argv, a.from_logs, None, None) if a.from_logs else run_bench(name, argv, logs)

    if cargv:
        docs["ceilings"] = run("ceilings", cargv)
    for name in selected:
        order.append(name)
        argv = bench_argv(name, a.quick)
        if argv is None:
            skipped[name] = "not present (no bench/drills module in this checkout)"
            print(f"\n=== {name}: not present", flush=True)
            continue
        if name == "soak" and a.soak_from:
            earlier = read_json(a.soak_from)
            docs[name] = earlier | {"took": earlier["seconds"], "command": "python bench/soak.py",
                                    "origin": f"not run by this run_all: the figures of a separate run started "
                                              f"{earlier['started']} (`{a.soak_from}`)"}
            continue
        docs[name] = run(name, argv)
    order += [n for n in skipped if n not in order]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    if a.from_logs:  # the date of the figures, not of this rewrite
        starts = [datetime.fromisoformat(d["started"]) for d in docs.values() if d.get("started")]
        started = min(starts) if starts else started
    write_doc(a.out, docs, order, quick=a.quick, started=started, argv=sys.argv[1:], skipped=skipped, mach=mach)
    missed = sum(1 for d in docs.values() for f in d.get("figures", []) if f["met"] is False)
    failed = [n for n, d in docs.items() if d.get("failed")]
    print(f"\nwrote {a.out}: {sum(len(d.get('figures', [])) for d in docs.values())} figures, {missed} missed "
          f"targets" + (f", FAILED: {', '.join(failed)}" if failed else "") + f"; logs in {logs}")
    if a.logs is None:
        shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
