"""The period cache in Redis is typed JSON, never pickle (ioc/kpi/cache_codec.py)."""

from __future__ import annotations

import logging
import pickle
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from ioc.kpi import cache_codec, periods
from ioc.kpi.periods import period_figures
from tests.kpi.test_periods import NOW, TZ, _random_history, _strip


def _same(a, b) -> None:
    assert type(a) is type(b), (a, b)
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_exact=True)
    elif isinstance(a, pd.Index):
        pd.testing.assert_index_equal(a, b, exact=True)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif a is pd.NaT:
        assert b is pd.NaT
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b
        if isinstance(a, np.generic):
            assert a.dtype == b.dtype


def test_round_trip_keeps_types():
    zone = "Asia/Ho_Chi_Minh"
    frame = pd.DataFrame({
        "commune_code": pd.Series(["28249", None, "29884"], dtype=object),
        "name": pd.Series(["Cao Lãnh", "Mỹ Tho", None], dtype="str"),
        "online_s": np.array([1.5, np.nan, np.inf]),
        "n": np.array([1, 2, 3], dtype=np.int64),
        "ok": np.array([True, False, True]),
        "at": pd.to_datetime(["2026-05-01T00:00Z", "2026-05-02T03:00Z", None], utc=True).tz_convert(zone),
        "naive": np.array(["2026-05-01", "NaT", "2026-05-03"], dtype="datetime64[us]"),
    }, index=pd.Index(["a", "b", "c"], name="key", dtype=object))
    value = {
        "frame": frame, "empty": pd.DataFrame(), "series": frame["online_s"], "index": frame.index,
        "by_day": {date(2026, 5, 1): {"aqi": 151, "dominant": "pm25"}, date(2026, 5, 2): None},
        "pairs": [(1, "x"), (2.5, None)], "times": [datetime(2026, 5, 1, 7, tzinfo=timezone.utc), date(2026, 5, 1),
                                                    timedelta(hours=7), pd.Timestamp("2026-05-01T07:00+07:00"),
                                                    pd.Timedelta(hours=3), pd.NaT],
        "numbers": [np.int64(3), np.float32(1.25), np.bool_(True), Decimal("12.50"), float("nan"), 2**70],
        "array": np.arange(6, dtype=np.int32).reshape(2, 3), "set": {"a", "b"},
        "multi": frame[["n"]].set_index(pd.MultiIndex.from_arrays([["x", "x", "y"], [1, 2, 1]], names=["a", "b"])),
        "dollar": {"$": "d", "v": {"looks like": "a tag"}},
    }
    back = cache_codec.loads(cache_codec.dumps(value))
    _same(value, back)


def test_unknown_types_and_foreign_blobs_are_refused():
    with pytest.raises(TypeError):
        cache_codec.dumps({"f": lambda: 1})
    with pytest.raises(TypeError):
        cache_codec.dumps(pd.Series([1, None], dtype="Int64"))
    for blob in (pickle.dumps({"a": 1}), b"[1,2]", b'{"ioc_cache": 99, "v": 1}', b'{"ioc_cache": 1, "v": {"$": "?"}}',
                 b'{"ioc_cache": 1'):
        with pytest.raises(ValueError):
            cache_codec.loads(blob)


class _Boom:
    """Unpickling this would run code: it must never happen."""

    ran = False

    def __reduce__(self):
        return (_mark, ())


def _mark():
    _Boom.ran = True
    return {"has_data": True, "forged": True}


def test_a_pickle_in_redis_is_refused_and_recomputed(engine, live_store, caplog):
    """Every closed window the KPI scheduler shares is typed JSON and reads back equal; a
    pickle written into those keys (by anyone who can write to that Redis) is never loaded:
    the window is computed again and the figures are the true ones."""
    from ioc.kpi.orchestrator import Orchestrator

    _random_history(engine)
    periods.clear_cache()
    alone = period_figures(engine, "month", date="2026-05-20", tz=TZ, now=NOW)
    with caplog.at_level(logging.WARNING, logger="ioc.kpi"):
        Orchestrator(engine, live_store, None).warm_periods(now=NOW)
    assert not [r for r in caplog.records if "not shared" in r.getMessage()]  # every window encodable
    keys = list(live_store.r.scan_iter(f"{live_store.key('kpi_period')}:*"))
    assert keys
    for k in keys:
        cache_codec.loads(live_store.r.get(k))  # raises if not our JSON

    forged = pickle.dumps(_Boom())
    for k in keys:
        live_store.r.set(k, forged, ex=600)
    periods.clear_cache()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ioc.kpi"):
        res = period_figures(engine, "month", date="2026-05-20", tz=TZ, now=NOW, store=live_store)
    assert _Boom.ran is False
    assert res["shared_cache_hits"] == 0
    assert any("refused" in r.getMessage() for r in caplog.records)
    assert _strip(res) == _strip(alone)
    # the windows the month read were computed again and written back as JSON
    rewritten = [k for k in keys if live_store.r.get(k) != forged]
    assert len(rewritten) == sum("refused" in r.getMessage() for r in caplog.records)
    for k in rewritten:
        cache_codec.loads(live_store.r.get(k))
