"""Camera network KPIs."""

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from ioc.kpi import cameras

T = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)


def cams():
    return pd.DataFrame({
        "id": ["c1", "c2", "c3", "c4", "c5"],
        "name": ["Chợ", "Cầu", "Bến", "UBND", "Trường"],
        "commune_code": ["A", "A", "B", None, "B"],
        "agency": ["CA", "CA", "CA", "UBND", None],
        "status": ["online", "offline", "offline", "degraded", "weird"],
        "status_since": [T("2025-03-01"), T("2025-03-10 06:00"), T("2025-03-09 12:00"), None, None],
        "status_reason": [None, "no stream", None, None, None],
        "last_seen": [T("2025-03-10 11:59"), T("2025-03-10 06:00"), None, None, None],
    })


def test_summary():
    s = cameras.summary(cams(), NOW)
    assert s["total"] == 5
    assert (s["online"], s["offline"], s["degraded"], s["unknown"]) == (1, 2, 1, 1)
    assert s["online_pct"] == 20.0
    assert s["online_pct_known"] == 25.0
    off = s["offline_cameras"]
    assert [o["id"] for o in off] == ["c3", "c2"]  # longest offline first
    assert off[0]["offline_hours"] == 24.0 and off[1]["offline_hours"] == 6.0
    assert off[1]["status_reason"] == "no stream" and off[0]["last_seen"] is None
    assert s["by_commune"]["A"]["total"] == 2 and s["by_commune"]["unknown"]["degraded"] == 1
    assert s["by_agency"]["CA"]["offline"] == 2


def test_empty():
    s = cameras.summary(cams().iloc[0:0], NOW)
    assert s["total"] == 0 and s["online_pct"] is None and s["offline_cameras"] == []
    assert s["by_commune"] == {}


def test_flapping():
    base = T("2025-03-10 11:00")
    rows = []
    for i in range(5):
        rows.append(("c1", base + timedelta(minutes=10 * i + 1), "offline" if i % 2 == 0 else "online",
                     "online" if i % 2 == 0 else "offline"))
    rows.append(("c2", base + timedelta(minutes=5), "offline", "online"))
    rows.append(("c2", base + timedelta(minutes=6), "offline", "offline"))  # not a change
    rows.append(("c3", T("2025-03-10 09:00"), "offline", "online"))  # outside the window
    df = pd.DataFrame(rows, columns=["camera_id", "at", "status", "previous"])
    f = cameras.flapping(df, NOW)
    assert [r["camera_id"] for r in f] == ["c1"] and f[0]["changes"] == 5
    assert cameras.flapping(df, NOW, min_changes=1)[-1]["camera_id"] == "c2"
    assert cameras.flapping(df, NOW, window=timedelta(hours=4), min_changes=1)[-1]["camera_id"] == "c3"
    with pytest.raises(ValueError):
        cameras.flapping(df, NOW, min_changes=0)
    assert cameras.flapping(df.iloc[0:0], NOW) == []
