"""Golden figures: the KPI engine's output on a fixed data set does not move when the code
is reorganised — except where a rule was changed on purpose, listed below with why.

The input (``fixtures/golden_input.json.gz``) is simulator data at a fixed seed and time,
stored as data by ``fixtures/make_golden.py`` (the simulator's demo changes; the fixture
must not). The expected output (``fixtures/golden_expected.json.gz``) is what the engine
computed on it before the KPI-engine rework; regenerate it only on purpose:

    PYTHONPATH=. python tests/kpi/test_golden.py
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import math
import sys
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from sqlalchemy import insert

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
TZ = "Asia/Ho_Chi_Minh"

# Generated or timing fields: differ on every run, whatever the code.
VOLATILE = (
    "snapshot.generated_at",
    "snapshot.compute_ms",
    "snapshot.*.compute_ms",
    "period_*.generated_at",
    "period_*.compute_ms",
    "period_*.shared_cache_hits",
)

# Deliberate differences from the expected figures. Nothing else may differ.
DELIBERATE = (
    # VN_WQI: the wqi branch rewrites ioc/kpi/wqi.py to follow QĐ 1460 as signed (geometric
    # means for groups II/III, corrected breakpoint rows), so every WQI figure of a water
    # station may change there; the station list, its names and sampled values may not.
    "snapshot.environment.water.*.wqi",
    "snapshot.environment.water.*.category",
    "snapshot.environment.water.*.groups",
    "snapshot.environment.water.*.parameters",
    "snapshot.environment.water.*.groups_used",
    "snapshot.environment.water.*.rejected",
    "snapshot.environment.water.*.reason",
    "snapshot.environment.water.*.do_pct",
    # QĐ 766 as the national portal scores it (docs/kpis.md § 7, DOMAIN.md): new points per
    # indicator (2.1 20, 3.3 6, 3.6 6, 4.1 6, 4.2 4, 4.3 2, 5.4 6 of 100), linear scoring for
    # 2.1, 3.6, 4.1 and 4.2, threshold 80 % for 4.3 — every score, max points, threshold and
    # total moves. Indicator 2.1 now counts dossiers still in progress and not yet past due
    # as on time (numerator and denominator grow by them), and 5.4 derives from 2.1. The
    # counts and every other indicator value (2.2, 3.3, 3.6, 4.1, 4.2, 4.3) must not move.
    "*procedures.*indicators.*.score",
    "*procedures.*indicators.*.max_points",
    "*procedures.*indicators.*.threshold_pct",
    "*procedures.*.score",
    "*procedures.*.max_score",
    "*procedures.*indicators.2.1.value",
    "*procedures.*indicators.2.1.numerator",
    "*procedures.*indicators.2.1.denominator",
    "*procedures.*indicators.2.1.in_progress_on_time",
    "*procedures.*indicators.5.4.value",
    "*procedures.*indicators.5.4.overdue_rate",
    "*procedures.delta*.2.1.*",
    "*procedures.delta*.5.4.*",
    "*procedures.delta*.score.*",
    # A new part, not a moved figure: the briefings whose last attempt failed, which the
    # briefing alert rule reads (docs/briefings.md § Alert). The golden data holds no briefings.
    "snapshot.briefings",
)


def load_input(engine) -> dict:
    """Insert the fixture's rows into a migrated, empty database; returns its meta data."""
    from ioc.db import models as m

    data = json.loads(gzip.decompress((FIXTURES / "golden_input.json.gz").read_bytes()))
    tables = {"procedures": m.Procedure, "tickets": m.Ticket, "cameras": m.Camera,
              "camera_status_changes": m.CameraStatusChange, "stations": m.Station, "datastreams": m.Datastream,
              "observations": m.Observation, "dossiers": m.Dossier}
    with engine.begin() as conn:
        for name, model in tables.items():
            t = model.__table__
            times = {c.name for c in t.columns if type(c.type).__name__ == "UTCDateTime"}
            rows = [{k: (datetime.fromisoformat(v) if k in times and v is not None else v) for k, v in r.items()}
                    for r in data[name]]
            for i in range(0, len(rows), 2000):
                conn.execute(insert(t), rows[i:i + 2000])
    return data["_meta"]


def compute(engine, now: datetime) -> dict:
    """What the golden file holds: the snapshot (``ioc kpi --json``) and period figures."""
    from ioc.kpi import periods, rollups
    from ioc.kpi.snapshot import SnapshotBuilder, dumps

    def js(v):
        return orjson.loads(dumps(v))

    out = {"snapshot": js(SnapshotBuilder(engine, None, None, tz=TZ).build(now, force=True))}
    periods.clear_cache()
    out["period_month"] = js(periods.period_figures(engine, "month", date="2026-05-20", tz=TZ, now=now))
    out["period_week"] = js(periods.period_figures(engine, "week", date="2026-05-19", tz=TZ, now=now))
    out["period_previous_month"] = js(periods.period_figures(engine, "month", date="2026-04-15", tz=TZ, now=now))
    # the same months again, closed days read from the daily rollups
    rollups.refresh(engine, TZ, now)
    periods.clear_cache()
    out["period_month_rollups"] = js(periods.period_figures(engine, "month", date="2026-05-20", tz=TZ, now=now))
    out["period_previous_month_rollups"] = js(periods.period_figures(engine, "month", date="2026-04-15", tz=TZ,
                                                                     now=now))
    periods.clear_cache()
    return out


def _matches(path: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def strip(v, patterns, path: str = ""):
    """``v`` without the entries whose dotted path matches one of ``patterns``."""
    if isinstance(v, dict):
        return {k: strip(x, patterns, f"{path}.{k}" if path else str(k)) for k, x in v.items()
                if not _matches(f"{path}.{k}" if path else str(k), patterns)}
    if isinstance(v, list):
        return [strip(x, patterns, f"{path}.{i}") for i, x in enumerate(v)]
    return v


def differences(got, want, path: str = "", out: list | None = None) -> list[str]:
    """Paths where ``got`` and ``want`` differ (floats equal to 1e-9: summation order)."""
    out = [] if out is None else out
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got), key=str):
            p = f"{path}.{k}" if path else str(k)
            if k not in got or k not in want:
                out.append(f"{p}: {'missing' if k not in got else 'unexpected'}")
            else:
                differences(got[k], want[k], p, out)
    elif isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            out.append(f"{path}: {len(got)} items, expected {len(want)}")
        for i, (a, b) in enumerate(zip(got, want)):
            differences(a, b, f"{path}.{i}", out)
    elif isinstance(want, float) or isinstance(got, float):
        if not (isinstance(got, (int, float)) and isinstance(want, (int, float)) and not isinstance(got, bool)
                and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)):
            out.append(f"{path}: {got!r} != {want!r}")
    elif got != want:
        out.append(f"{path}: {got!r} != {want!r}")
    return out


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def golden_engine(request, tmp_path_factory):
    """The fixture's data in a migrated database: SQLite, and PostgreSQL when
    IOC_TEST_DATABASE_URL is set (the expected figures were computed on SQLite)."""
    from pgtools import PG_URL, create_pg_database, drop_pg_database

    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('golden') / 'golden.db'}"
    elif not PG_URL:
        pytest.skip("IOC_TEST_DATABASE_URL not set: no PostgreSQL for this run")
    else:
        url = create_pg_database("ioc_golden", fast=True)
    eng = make_engine(url)
    upgrade(eng)
    meta = load_input(eng)
    yield eng, datetime.fromisoformat(meta["frozen_at"])
    eng.dispose()
    if request.param == "postgresql":
        drop_pg_database(url)


def test_figures_unchanged_except_deliberate_fixes(golden_engine):
    engine, now = golden_engine
    want = expected()
    got = compute(engine, now)
    assert got["snapshot"]["procedures"]["has_data"] and got["snapshot"]["hotline"]["has_data"]
    assert got["snapshot"]["environment"]["air"] and got["snapshot"]["cameras"]["total"]
    skip = VOLATILE + DELIBERATE
    diff = differences(strip(got, skip), strip(want, skip))
    assert not diff, f"{len(diff)} figure(s) moved:\n" + "\n".join(diff[:40])


def test_the_comparison_sees_a_moved_figure():
    """The check can fail: one changed count is reported with its path."""
    want = expected()
    got = json.loads(json.dumps(want))
    got["snapshot"]["cameras"]["online"] += 1
    got["snapshot"]["environment"]["water"][0]["wqi"] = -1  # a deliberate difference: ignored
    skip = VOLATILE + DELIBERATE
    assert differences(strip(got, skip), strip(want, skip)) == [
        f"snapshot.cameras.online: {want['snapshot']['cameras']['online'] + 1} != {want['snapshot']['cameras']['online']}"]


def expected() -> dict:
    return json.loads(gzip.decompress((FIXTURES / "golden_expected.json.gz").read_bytes()))


def write_expected() -> None:
    import tempfile

    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        eng = make_engine(f"sqlite:///{Path(tmp) / 'golden.db'}")
        upgrade(eng)
        meta = load_input(eng)
        res = compute(eng, datetime.fromisoformat(meta["frozen_at"]))
        eng.dispose()
    blob = json.dumps(res, ensure_ascii=False, indent=1, sort_keys=True).encode() + b"\n"
    (FIXTURES / "golden_expected.json.gz").write_bytes(gzip.compress(blob, 9, mtime=0))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    write_expected()
