import pytest

from ioc.errors import UserError
from ioc.settings import load_settings, mask_url_password


def test_env_prefix_and_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("IOC_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("IOC_HOTLINE_URL", "http://h/open311/v2")
    s = load_settings()
    assert s.data_dir == tmp_path / "d"
    assert s.hotline_url == "http://h/open311/v2"
    assert s.timezone == "Asia/Ho_Chi_Minh"
    assert s.effective_database_url == f"sqlite:///{(tmp_path / 'd' / 'ioc.db').resolve()}"


def test_dotenv_file_is_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("IOC_WEB_PORT=9999\n")
    assert load_settings().web_port == 9999


def test_secrets_masked(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IOC_HOTLINE_API_KEY", "s3cret-key")
    monkeypatch.setenv("IOC_DATABASE_URL", "postgresql://ioc:pw123@db/ioc")
    shown = load_settings().masked()
    flat = " ".join(shown.values())
    assert "s3cret-key" not in flat and "pw123" not in flat
    assert shown["hotline_api_key"] == "********"
    assert shown["database_url"] == "postgresql://ioc:********@db/ioc"


@pytest.mark.parametrize(
    "name,value,fragment",
    [("IOC_TIMEZONE", "Mars/Phobos", "IOC_TIMEZONE"), ("IOC_WEB_PORT", "abc", "IOC_WEB_PORT"),
     ("IOC_LANGUAGE", "fr", "IOC_LANGUAGE")],
)
def test_bad_values_give_one_clear_line(monkeypatch, tmp_path, name, value, fragment):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(UserError) as info:
        load_settings()
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_mask_url_password_leaves_plain_urls():
    assert mask_url_password("redis://localhost:6379/0") == "redis://localhost:6379/0"
    assert mask_url_password("redis://:pw@h:1/0") == "redis://:********@h:1/0"
