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
    assert shown["hotline_api_key"] == "***"
    assert shown["database_url"] == "postgresql://ioc:***@db/ioc"


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
    assert mask_url_password("redis://:pw@h:1/0") == "redis://:***@h:1/0"


def test_secrets_never_reach_a_log_line(monkeypatch, tmp_path):
    """configure_logging masks every secret the process knows — settings, URL passwords, any
    IOC_* variable named like a secret — in messages and tracebacks, whoever logs them."""
    import io
    import logging

    from ioc.settings import configure_logging

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IOC_HOTLINE_API_KEY", "hk-5ecret-77")
    monkeypatch.setenv("IOC_DATABASE_URL", "postgresql://ioc:db-pa55@db/ioc")
    monkeypatch.setenv("IOC_SMTP_PASSWORD", "mail-pa55")
    monkeypatch.setenv("IOC_SECRET_KEY", "sess-k3y-0123456789")
    settings = load_settings()
    assert {"hk-5ecret-77", "db-pa55", "mail-pa55", "sess-k3y-0123456789"} <= set(settings.secret_values())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        configure_logging(settings)
        log = logging.getLogger("ioc.test")
        log.warning("polling with key %s", "hk-5ecret-77")
        logging.getLogger("httpx").error("GET http://cam:c4m-pw@10.0.0.5/snap.jpg?token=abc123&x=1 failed")
        try:
            raise RuntimeError("cannot log in to smtp with mail-pa55 / connect postgresql://ioc:db-pa55@db/ioc")
        except RuntimeError:
            log.exception("send failed")
        log.warning("session key sess-k3y-0123456789")
    finally:
        root.removeHandler(handler)
    out = stream.getvalue()
    for secret in ("hk-5ecret-77", "c4m-pw", "abc123", "mail-pa55", "db-pa55", "sess-k3y-0123456789"):
        assert secret not in out, (secret, out)
    assert "polling with key ***" in out and "http://cam:***@10.0.0.5/snap.jpg?token=***&x=1" in out
    assert "RuntimeError" in out  # the traceback is still there, masked
