"""Shared helpers of the connector acceptance tests: connectors wired to a simulator, the
upstream read independently (plain HTTP, no connector code), and the SQL/Redis state read
back, so a test can assert that the two reconcile exactly."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connectors.http import JsonClient
from connectors.registry import connector_class
from ioc.db import models as m
from ioc.records import clean_text
from ioc.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
IOC = str(ROOT / ".venv" / "bin" / "ioc")

HOTLINE_KEY = "sim-hotline-key"
CAMERA_TOKEN = "sim-camera-token"

DATA_TABLES = ["ticket_status_changes", "tickets", "camera_status_changes", "cameras", "observations",
               "datastreams", "stations", "dossiers", "procedures", "quarantine", "source_runs",
               "source_cursors"]


def utc(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def truncate(engine) -> None:
    """Empty the data tables (DELETE: on small tables much faster than TRUNCATE on PostgreSQL)."""
    with engine.begin() as conn:
        for t in DATA_TABLES:
            conn.execute(text(f"DELETE FROM {t}"))


# --- connectors ---------------------------------------------------------------------------


def settings_for(sim, data_dir: Path, **overrides):
    kw = dict(data_dir=data_dir, hotline_url=sim.hotline_url, hotline_api_key=HOTLINE_KEY,
              cameras_url=sim.cameras_url, cameras_token=CAMERA_TOKEN, environment_url=sim.environment_url,
              procedures_url=sim.procedures_url)
    kw.update(overrides)
    return load_settings(**kw)


class Sleeps(list):
    """A JsonClient `sleep` that records the delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connector(source: str, settings, engine, store, locator, *, timeout: float = 2.0, attempts: int = 2):
    """A connector with a test HTTP client: short timeout, few attempts, sleeps recorded."""
    conn = connector_class(source)(settings, engine, store, locator=locator)
    conn.client.close()
    conn.sleeps = Sleeps()
    conn.client = JsonClient(getattr(settings, conn.url_setting), **conn.client_options(), timeout=timeout,
                             attempts=attempts, backoff_base=0.01, backoff_cap=30.0, sleep=conn.sleeps)
    no_keepalive(conn.client)
    return conn


def no_keepalive(client: JsonClient) -> JsonClient:
    """One TCP connection per request. The simulator (uvicorn + h11) answers a request on a
    kept-alive connection ~40 ms late (Nagle × delayed ACK); a fresh localhost connection
    costs ~1 ms, so the tests run 20× faster this way. Same requests, same behaviour."""
    old = client.client
    client.client = httpx.Client(headers=old.headers, auth=old.auth, timeout=old.timeout, follow_redirects=True,
                                 limits=httpx.Limits(max_keepalive_connections=0))
    old.close()
    return client


def fast_control(sim) -> None:
    """The simulator handle's control client without keep-alive (see no_keepalive)."""
    sim._client.close()
    sim._client = httpx.Client(base_url=sim.base_url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


# --- the upstream, read independently -----------------------------------------------------
#
# With a frozen simulator clock and the faults cleared, the upstream does not change, so a
# module's tests share each read (keyed by the simulator's URL and the window).

_truth: dict = {}


def cached(fn):
    def wrapper(sim, *args):
        key = (fn.__name__, sim.base_url, args)
        if key not in _truth:
            _truth[key] = fn(sim, *args)
        return _truth[key]

    wrapper.__name__ = fn.__name__
    wrapper.uncached = fn
    return wrapper


def _get(url: str, **kw):
    r = httpx.get(url, timeout=60, **kw)
    r.raise_for_status()
    return r


@cached
def upstream_tickets(sim) -> dict[str, dict]:
    now = datetime.now(timezone.utc)
    out, page = {}, 1
    while True:
        r = _get(sim.hotline_url + "/requests.json",
                 params={"start_date": (now - timedelta(days=89)).isoformat(), "end_date": now.isoformat(),
                         "page": page, "page_size": 1000, "api_key": HOTLINE_KEY})
        items = r.json()
        for t in items:
            assert t["service_request_id"] not in out
            out[t["service_request_id"]] = t
        assert len(out) <= int(r.headers["X-Total-Count"])
        if len(items) < 1000:
            assert len(out) == int(r.headers["X-Total-Count"])
            return out
        page += 1


@cached
def upstream_cameras(sim) -> dict[str, dict]:
    out, page = {}, 0
    while True:
        body = _get(sim.cameras_url + "/cameras", params={"page": page, "itemsPerPage": 5000},
                    headers={"Authorization": f"Bearer {CAMERA_TOKEN}"}).json()
        for c in body["items"]:
            out[c["id"]] = c
        page += 1
        if page >= body["pageCount"]:
            assert len(out) == body["itemCount"]
            return out


@cached
def upstream_dossiers(sim, since: datetime | None = None) -> dict[str, dict]:
    out, page = {}, 1
    while True:
        params = {"page": page, "page_size": 10_000}
        if since is not None:
            params["updated_since"] = since.isoformat()
        body = _get(sim.procedures_url + "/dossiers", params=params).json()
        for d in body["items"]:
            out[d["MaHoSo"]] = d
        if len(body["items"]) < 10_000:
            assert len(out) == body["total"]
            return out
        page += 1


@cached
def upstream_catalogue(sim) -> list[dict]:
    body = _get(sim.procedures_url + "/procedures", params={"page_size": 10_000}).json()
    assert len(body["items"]) == body["total"]
    return body["items"]


def _sta(sim, path: str) -> list[dict]:
    url, out = sim.environment_url + "/" + path, []
    while url:
        body = _get(url).json()
        out += body["value"]
        url = body.get("@iot.nextLink")
    return out


@cached
def upstream_things(sim) -> dict[str, dict]:
    return {str(t["@iot.id"]): t for t in _sta(sim, "Things?$top=10000")}


@cached
def upstream_datastreams(sim) -> dict[str, dict]:
    return {str(d["@iot.id"]): d for d in _sta(sim, "Datastreams?$top=10000&$expand=ObservedProperty")}


@cached
def upstream_observations(sim, after: datetime) -> dict[tuple[str, datetime], float]:
    t = after.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rows = _sta(sim, f"Observations?$filter=phenomenonTime%20gt%20{t}&$top=10000&$expand=Datastream($select=id)")
    out = {}
    for o in rows:
        key = (str(o["Datastream"]["@iot.id"]), utc(o["phenomenonTime"].split("/")[0]))
        assert key not in out
        out[key] = o["result"]
    return out


# --- our stores, read back ----------------------------------------------------------------


def sql_rows(engine, model) -> list:
    """All rows of a model's table (Core rows: attribute access by column name, cheap)."""
    with engine.connect() as conn:
        return conn.execute(select(model.__table__)).all()


def live_from_sql(source: str, engine) -> dict[str, dict]:
    import importlib

    with Session(engine) as s:
        return importlib.import_module(f"connectors.{source}").live_from_sql(s)


def normalise(record: dict) -> dict:
    """Redis JSON and SQL-rebuilt JSON differ only in how an instant is spelled."""
    out = {}
    for k, v in record.items():
        if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == "T":
            try:
                v = utc(v).isoformat()
            except ValueError:
                pass
        out[k] = v
    return out


def assert_latest_matches_sql(source: str, engine, store) -> None:
    redis_side = {k: normalise(v) for k, v in store.latest(source).items()}
    sql_side = {k: normalise(v) for k, v in live_from_sql(source, engine).items()}
    assert set(redis_side) == set(sql_side), (
        f"{source}: Redis latest and SQL disagree on ids: only Redis {sorted(set(redis_side) - set(sql_side))[:5]}, "
        f"only SQL {sorted(set(sql_side) - set(redis_side))[:5]}")
    diff = [k for k in sql_side if redis_side[k] != sql_side[k]]
    assert not diff, f"{source}: {len(diff)} latest records differ, e.g. {diff[0]}: redis {redis_side[diff[0]]} sql {sql_side[diff[0]]}"


# --- exact reconciliation, per source -----------------------------------------------------


def _diff(name: str, ours: dict, theirs: dict) -> None:
    missing = sorted(set(theirs) - set(ours), key=str)
    extra = sorted(set(ours) - set(theirs), key=str)
    assert not missing and not extra, f"{name}: {len(missing)} missing (e.g. {missing[:3]}), {len(extra)} extra (e.g. {extra[:3]})"
    wrong = [k for k in theirs if ours[k] != theirs[k]]
    assert not wrong, f"{name}: {len(wrong)} differ, e.g. {wrong[0]}: ours {ours[wrong[0]]} upstream {theirs[wrong[0]]}"


def assert_hotline_reconciled(sim, engine) -> None:
    up = upstream_tickets(sim)
    theirs = {i: (t["status"], utc(t["updated_datetime"]), utc(t["requested_datetime"]),
                  clean_text(t.get("description")), clean_text(t.get("address")), clean_text(t.get("agency_responsible")))
              for i, t in up.items()}
    rows = sql_rows(engine, m.Ticket)
    ours = {t.external_id: (t.status, aware(t.updated_at), aware(t.requested_at), t.description, t.address, t.agency)
            for t in rows}
    assert len(ours) == len(rows), "duplicated tickets"
    _diff("tickets", ours, theirs)
    notes = {(i, utc(n["datetime"]), n["type"]) for i, t in up.items() for n in t["notes"]}
    changes = sql_rows(engine, m.TicketStatusChange)
    history = {(h.ticket_external_id, aware(h.at), h.state) for h in changes}
    assert len(history) == len(changes), "duplicated ticket history"
    _diff("ticket history", {k: 1 for k in history}, {k: 1 for k in notes})


def assert_cameras_reconciled(sim, engine) -> None:
    up = upstream_cameras(sim)
    theirs = {i: (c["status"], utc(c["updated_at"]), utc(c["last_seen"]), clean_text(c["name"]), clean_text(c["address"]))
              for i, c in up.items()}
    rows = sql_rows(engine, m.Camera)
    ours = {c.id: (c.status, aware(c.updated_at), aware(c.last_seen), c.name, c.address) for c in rows}
    assert len(ours) == len(rows), "duplicated cameras"
    _diff("cameras", ours, theirs)


def assert_procedures_reconciled(sim, engine, *, waits: bool = True) -> None:
    """`waits=False` leaves out `thoi_gian_cho_bo_sung`: the simulator lets it grow while a
    dossier waits for supplements without moving `updated_at`, so after its clock moved no
    `updated_since` read can see that change."""
    up = upstream_dossiers(sim)
    theirs = {i: (str(d["TrangThaiHoSo"]), utc(d["updated_at"]), utc(d["NgayTiepNhan"]), utc(d["NgayKetThucXuLy"]),
                  float(d["thoi_gian_cho_bo_sung"] or 0) if waits else None, clean_text(d["TenCoQuan"] or d["MaCoQuan"]))
              for i, d in up.items()}
    rows = sql_rows(engine, m.Dossier)
    ours = {d.id: (d.status, aware(d.updated_at), aware(d.received_at), aware(d.finished_at),
                   d.supplement_wait_hours if waits else None, d.agency) for d in rows}
    assert len(ours) == len(rows), "duplicated dossiers"
    _diff("dossiers", ours, theirs)
    catalogue = upstream_catalogue(sim)
    _diff("procedure catalogue", {p.code: p.name for p in sql_rows(engine, m.Procedure)},
          {c["MaTTHC"]: clean_text(c["TenTTHC"]) for c in catalogue})


def assert_environment_reconciled(sim, engine, after: datetime) -> None:
    things = upstream_things(sim)
    _diff("stations", {s.id: s.name for s in sql_rows(engine, m.Station)},
          {i: clean_text(t["name"]) for i, t in things.items()})
    streams = upstream_datastreams(sim)
    _diff("datastreams", {d.id: d.source_unit for d in sql_rows(engine, m.Datastream)},
          {i: d["unitOfMeasurement"]["symbol"] for i, d in streams.items()})
    theirs = {k: round(v, 4) for k, v in upstream_observations(sim, after).items()}
    rows = sql_rows(engine, m.Observation)
    ours = {(o.datastream_id, aware(o.phenomenon_time)): round(o.result, 4) for o in rows}
    assert len(ours) == len(rows), "duplicated observations"
    _diff("observations", ours, theirs)


# --- the CLI as a subprocess --------------------------------------------------------------


def cli_env(sim, data_dir: Path, db_url: str, redis_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update({
        "IOC_DATA_DIR": str(data_dir), "IOC_DATABASE_URL": db_url, "IOC_REDIS_URL": redis_url,
        "IOC_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
    })
    if sim is not None:
        env.update({"IOC_HOTLINE_URL": sim.hotline_url, "IOC_HOTLINE_API_KEY": HOTLINE_KEY,
                    "IOC_CAMERAS_URL": sim.cameras_url, "IOC_CAMERAS_TOKEN": CAMERA_TOKEN,
                    "IOC_ENVIRONMENT_URL": sim.environment_url, "IOC_PROCEDURES_URL": sim.procedures_url})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def ioc(*args, env: dict, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([IOC, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def ioc_popen(*args, env: dict, cwd: Path) -> subprocess.Popen:
    """A long-running `ioc …`; its output goes to files in `cwd` (a pipe nobody reads could fill
    and block it): `cwd/ioc.out`, `cwd/ioc.err`."""
    with open(cwd / "ioc.out", "ab") as out, open(cwd / "ioc.err", "ab") as err:
        return subprocess.Popen([IOC, *args], env=env, cwd=cwd, stdout=out, stderr=err)

