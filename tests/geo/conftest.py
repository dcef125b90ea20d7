"""Fixtures for the geography tests: fresh SQLite databases and the shared demo boundaries."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from ioc.db.models import Base
from ioc.db.session import make_engine
from ioc.settings import SHARED_GEO

DT_FILE = SHARED_GEO / "dong_thap_districts_pre2025.geojson"
TG_FILE = SHARED_GEO / "tien_giang_districts_pre2025.geojson"


def _need_shared_geo() -> None:
    if not (DT_FILE.is_file() and TG_FILE.is_file()):
        pytest.skip(f"demo boundaries not found under {SHARED_GEO}")


def new_engine(path: Path):
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    return engine


@pytest.fixture
def engine(tmp_path):
    eng = new_engine(tmp_path / "geo.db")
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine):
    with Session(engine) as s:
        yield s


@pytest.fixture
def dt_file() -> Path:
    _need_shared_geo()
    return DT_FILE


@pytest.fixture
def tg_file() -> Path:
    _need_shared_geo()
    return TG_FILE


@pytest.fixture(scope="session")
def loaded_engine(tmp_path_factory):
    """A database with both demo files imported (shared by read-only tests)."""
    _need_shared_geo()
    from geo.boundaries import import_boundaries

    eng = new_engine(tmp_path_factory.mktemp("geo-loaded") / "geo.db")
    with Session(eng) as s:
        import_boundaries(DT_FILE, s)
        import_boundaries(TG_FILE, s)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def assigner(loaded_engine):
    from geo.assign import SpatialAssigner

    with Session(loaded_engine) as s:
        return SpatialAssigner.from_session(s)


@pytest.fixture(scope="session")
def matcher():
    from geo.units import UnitMatcher

    return UnitMatcher.default()


@pytest.fixture
def districts_dir(tmp_path, dt_file, tg_file):
    """A folder holding just the two pre-2025 district files (../shared/geo holds more)."""
    import shutil

    folder = tmp_path / "districts"
    folder.mkdir()
    shutil.copy(dt_file, folder)
    shutil.copy(tg_file, folder)
    return folder
