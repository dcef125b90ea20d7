"""Docs that cannot drift: every setting, Redis key and SQL table is documented."""

from pathlib import Path

from ioc.db.models import Base
from ioc.live_store import KEYS
from ioc.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_setting_is_documented():
    text = (DOCS / "configuration.md").read_text()
    missing = [f"IOC_{n.upper()}" for n in Settings.model_fields if f"`IOC_{n.upper()}`" not in text]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_every_redis_key_is_documented():
    text = (DOCS / "data-model.md").read_text()
    missing = [pattern for pattern, _t, _m in KEYS.values()
               if f"`{pattern.format(prefix='ioc', source='SOURCE')}`" not in text]
    assert not missing, f"Redis keys missing from docs/data-model.md: {missing}"


def test_every_table_is_documented():
    text = (DOCS / "data-model.md").read_text()
    missing = [name for name in Base.metadata.tables if f"`{name}`" not in text]
    assert not missing, f"tables missing from docs/data-model.md: {missing}"
