"""State of the stores for /healthz (and `ioc up`'s start-up check)."""

from __future__ import annotations

from sqlalchemy import text

from ioc.db.migrate import current_revision, head_revision
from ioc.db.session import engine_for
from ioc.live_store import LiveStore
from ioc.redis_client import describe
from ioc.settings import Settings, mask_url_password, redact_secrets


def check(settings: Settings) -> dict:
    out: dict = {"redis": {"url": describe(settings)}, "database": {}}
    store = None
    try:
        store = LiveStore.for_settings(settings, socket_timeout=2, socket_connect_timeout=2, retries=1)
        store.ping()
        out["redis"] |= {"ok": True, "data_version": store.version()}
    except Exception as err:  # any failure is a state to report, not a crash
        out["redis"] |= {"ok": False, "error": redact_secrets(f"{type(err).__name__}: {err}", settings.secret_values())}
    finally:
        if store is not None:
            store.r.close()
    db_url = settings.effective_database_url
    out["database"]["url"] = mask_url_password(db_url)
    try:
        engine = engine_for(db_url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        rev, head = current_revision(engine), head_revision(engine)
        out["database"] |= {"ok": rev == head, "revision": rev, "head": head}
        if rev != head:
            out["database"]["error"] = "schema not up to date: run `ioc db upgrade`"
    except Exception as err:
        out["database"] |= {"ok": False,
                            "error": redact_secrets(f"{type(err).__name__}: {err}", settings.secret_values())}
    out["status"] = "ok" if out["redis"]["ok"] and out["database"]["ok"] else "degraded"
    return out
