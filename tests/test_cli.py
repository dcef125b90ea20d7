"""The CLI as a user runs it: a real process, one clear line and exit 2 on bad input."""

import os
import subprocess
import sys

import pytest


def run_ioc(*args, env=None, cwd=None, timeout=60):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")} | (env or {})
    return subprocess.run([sys.executable, "-m", "ioc", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


@pytest.mark.parametrize("sub", [[], ["up"], ["web"], ["db", "upgrade"], ["config", "show"], ["geo", "import"],
                                 ["sim", "serve"], ["connectors", "poll"], ["kpi"]])
def test_every_subcommand_has_help(sub, tmp_path):
    res = run_ioc(*sub, "--help", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Usage" in res.stdout


def test_config_show_masks_secrets(tmp_path):
    res = run_ioc("config", "show", "--json", cwd=tmp_path,
                  env={"IOC_PROCEDURES_API_KEY": "topsecret", "IOC_DATABASE_URL": "postgresql://u:hunter2@db/x",
                       "IOC_SMTP_PASSWORD": "smtp-pw-42"})
    assert res.returncode == 0, res.stderr
    assert "topsecret" not in res.stdout and "hunter2" not in res.stdout and "smtp-pw-42" not in res.stdout
    assert "***" in res.stdout


@pytest.mark.parametrize(
    "args,env,expect",
    [
        (["db", "upgrade"], {"IOC_DATABASE_URL": "not a url"}, "malformed database URL"),
        (["db", "upgrade"], {"IOC_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}, "cannot reach the database"),
        (["web"], {"IOC_REDIS_URL": "redis://127.0.0.1:1/0"}, "cannot reach Redis"),
        (["config", "show"], {"IOC_TIMEZONE": "Mars/Phobos"}, "IOC_TIMEZONE"),
        (["geo", "import", "/nonexistent/file.geojson"], {}, "/nonexistent/file.geojson"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(args, env, expect, tmp_path):
    res = run_ioc(*args, env={"IOC_DATA_DIR": str(tmp_path / "var")} | env, cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and expect in lines[0], res.stderr


def test_non_geographic_boundary_file_is_refused_and_nothing_written(tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"NAME_3":"X"},'
                   '"geometry":{"type":"Polygon","coordinates":[[[500000,1150000],[510000,1150000],[510000,1160000],[500000,1150000]]]}}]}')
    env = {"IOC_DATA_DIR": str(tmp_path / "var")}
    res = run_ioc("geo", "import", str(bad), env=env, cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    from sqlalchemy import func, select

    from ioc.db.models import Boundary
    from ioc.db.session import make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'var' / 'ioc.db'}")
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Boundary)).scalar_one() == 0


def test_db_upgrade_is_idempotent(tmp_path):
    env = {"IOC_DATA_DIR": str(tmp_path / "var")}
    first = run_ioc("db", "upgrade", env=env, cwd=tmp_path)
    second = run_ioc("db", "upgrade", env=env, cwd=tmp_path)
    assert first.returncode == 0 and "migrated" in first.stdout
    assert second.returncode == 0 and "already at revision" in second.stdout
