import pytest
from typer.testing import CliRunner

from geo.cli import app
from ioc.settings import get_settings

runner = CliRunner()


@pytest.fixture
def db_env(tmp_path, monkeypatch):
    monkeypatch.setenv("IOC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_units_command(db_env):
    result = runner.invoke(app, ["units"])
    assert result.exit_code == 0, result.output
    assert "126 administrative units: 1 province + 102 communes + 23 pre-2025 districts" in result.output
    assert "inserted 126" in result.output
    again = runner.invoke(app, ["units"])
    assert "unchanged 126" in again.output


def test_import_command_is_idempotent(db_env, dt_file):
    first = runner.invoke(app, ["import", str(dt_file)])
    assert first.exit_code == 0, first.output
    assert "Imported 11 polygons" in first.output and "inserted 11" in first.output
    second = runner.invoke(app, ["import", str(dt_file)])
    assert second.exit_code == 0, second.output
    assert "inserted 0, updated 0, unchanged 11" in second.output


def test_import_command_reports_user_errors(db_env, tmp_path):
    result = runner.invoke(app, ["import", str(tmp_path / "missing.geojson")])
    assert result.exit_code == 2
    assert "boundary file not found" in result.output
    assert "Traceback" not in result.output
