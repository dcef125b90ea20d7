"""Typed JSON for the period cache in Redis (ioc/kpi/periods.py).

Until 02/12/2026 the cache held pickles: whoever could write to that Redis could run code in
the web and scheduler processes when they read a cached window. JSON cannot carry code; the
types the period code caches (dicts with date keys, tuples, numpy arrays and scalars, pandas
frames, series and indexes, dates, times, decimals, NaN) are written with an explicit tag and
rebuilt exactly. A value of any other type is refused on writing (TypeError: the window is
then simply not shared); anything that is not our JSON — an old pickle included — is refused
on reading (ValueError: the window is computed again).

Every container is a tagged object ``{"$": tag, …}`` except lists, so a dict of the cached
data never meets a tag by accident: dicts are always tagged too.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import orjson
import pandas as pd

FORMAT = 1  # bump when the tags change: older entries are then refused (and recomputed)
_MAGIC = b'{"ioc_cache":'


def dumps(value) -> bytes:
    """The value as typed JSON; TypeError for a type this codec does not know."""
    return orjson.dumps({"ioc_cache": FORMAT, "v": _enc(value)})


def loads(blob: bytes):
    """The value written by :func:`dumps`; ValueError for anything else (a pickle included:
    it is never handed to ``pickle``)."""
    if not isinstance(blob, (bytes, bytearray)) or not bytes(blob).startswith(_MAGIC):
        raise ValueError("not a typed-JSON cache entry")
    try:
        doc = orjson.loads(blob)
    except orjson.JSONDecodeError as err:
        raise ValueError(f"cache entry is not JSON: {err}") from None
    if not isinstance(doc, dict) or doc.get("ioc_cache") != FORMAT or "v" not in doc:
        raise ValueError("cache entry of another format")
    try:
        return _dec(doc["v"])
    except (KeyError, TypeError, IndexError, AttributeError) as err:
        raise ValueError(f"malformed cache entry: {err}") from None


def _float(v: float):
    return v if math.isfinite(v) else {"$": "f", "v": repr(v)}


def _enc(v):
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        return v if -(2**63) <= v < 2**63 else {"$": "bigint", "v": str(v)}
    if t is float:
        return _float(v)
    if t is list:
        return [_enc(x) for x in v]
    if t is dict:
        if all(type(k) is str for k in v):
            return {"$": "d", "v": {k: _enc(x) for k, x in v.items()}}
        return {"$": "m", "v": [[_enc(k), _enc(x)] for k, x in v.items()]}
    if t is tuple:
        return {"$": "t", "v": [_enc(x) for x in v]}
    if t in (set, frozenset):
        return {"$": "set" if t is set else "fset", "v": [_enc(x) for x in v]}
    if v is pd.NaT:
        return {"$": "nat"}
    if isinstance(v, pd.Timestamp):
        return {"$": "ts", "v": v.isoformat(), "unit": v.unit}
    if isinstance(v, pd.Timedelta):
        return {"$": "td", "v": int(v.value), "unit": v.unit}
    if t is datetime:
        return {"$": "dt", "v": v.isoformat()}
    if t is date:
        return {"$": "date", "v": v.isoformat()}
    if t is timedelta:
        return {"$": "pytd", "v": [v.days, v.seconds, v.microseconds]}
    if t is Decimal:
        return {"$": "dec", "v": str(v)}
    if isinstance(v, np.generic):
        return {"$": "np", "dt": v.dtype.str, "v": _enc(_array_list(np.asarray(v).reshape(1))[0])}
    if isinstance(v, np.ndarray):
        return {"$": "nd", "dt": v.dtype.str, "shape": list(v.shape), "v": _array_list(v.reshape(-1))}
    if isinstance(v, pd.DataFrame):
        if not v.columns.is_unique:
            raise TypeError("a frame with duplicate column names")
        return {"$": "df", "cols": _enc(v.columns), "index": _enc(v.index),
                "data": [_column(v[c]) for c in v.columns]}
    if isinstance(v, pd.Series):
        return {"$": "s", "name": _enc(v.name), "index": _enc(v.index), "data": _column(v)}
    if isinstance(v, pd.Index):
        if isinstance(v, pd.MultiIndex):
            return {"$": "mix", "names": [_enc(n) for n in v.names],
                    "levels": [_column(v.get_level_values(i)) for i in range(v.nlevels)]}
        return {"$": "ix", "name": _enc(v.name), "data": _column(v)}
    raise TypeError(f"the period cache does not store {t.__module__}.{t.__name__}")


def _array_list(a: np.ndarray) -> list:
    """A 1-D array's items as JSON values (times as integers of their unit, floats tagged
    when not finite, objects encoded one by one)."""
    kind = a.dtype.kind
    if kind in "mM":
        return a.view(np.int64).tolist()
    if kind == "O":
        return [_enc(x) for x in a]
    if kind == "f":
        return [_float(x) for x in a.tolist()]
    if kind in "biuU":
        return a.tolist()
    raise TypeError(f"the period cache does not store arrays of dtype {a.dtype}")


def _column(values) -> dict:
    """A series' or index's values with their pandas dtype (numpy dtypes, and times with a zone)."""
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        naive = values.dt.tz_convert(None) if isinstance(values, pd.Series) else values.tz_convert(None)
        arr = np.asarray(naive, dtype=f"datetime64[{dtype.unit}]")
        return {"tz": str(dtype.tz), "unit": dtype.unit, "v": arr.view(np.int64).tolist()}
    if isinstance(dtype, pd.StringDtype):
        na = "nan" if dtype.na_value is np.nan else "na"
        return {"sd": [dtype.storage, na], "v": [None if pd.isna(x) else str(x) for x in values]}
    if not isinstance(dtype, np.dtype):
        raise TypeError(f"the period cache does not store pandas dtype {dtype}")
    return {"dt": dtype.str, "v": _array_list(np.asarray(values))}


def _uncolumn(doc: dict):
    if "sd" in doc:
        storage, na = doc["sd"]
        return pd.array(doc["v"], dtype=pd.StringDtype(storage, na_value=np.nan if na == "nan" else pd.NA))
    if "tz" in doc:
        naive = np.asarray(doc["v"], dtype=np.int64).view(f"datetime64[{doc['unit']}]")
        return pd.DatetimeIndex(naive).tz_localize("UTC").tz_convert(doc["tz"])
    return _unarray(doc["dt"], doc["v"])


def _unarray(dt: str, items: list) -> np.ndarray:
    dtype = np.dtype(dt)
    if dtype.kind in "mM":
        return np.asarray(items, dtype=np.int64).view(dtype)
    if dtype.kind == "O":
        out = np.empty(len(items), dtype=object)
        out[:] = [_dec(x) for x in items]
        return out
    if dtype.kind == "f":
        return np.asarray([_dec(x) if isinstance(x, dict) else x for x in items], dtype=dtype)
    if dtype.kind in "biuU":
        return np.asarray(items, dtype=dtype)
    raise ValueError(f"unknown array dtype {dt!r}")


def _dec(v):
    if not isinstance(v, dict):
        return [_dec(x) for x in v] if isinstance(v, list) else v
    tag = v["$"]
    if tag == "d":
        return {k: _dec(x) for k, x in v["v"].items()}
    if tag == "m":
        return {_hashable(_dec(k)): _dec(x) for k, x in v["v"]}
    if tag == "t":
        return tuple(_dec(x) for x in v["v"])
    if tag in ("set", "fset"):
        items = [_hashable(_dec(x)) for x in v["v"]]
        return set(items) if tag == "set" else frozenset(items)
    if tag == "f":
        return float(v["v"])
    if tag == "bigint":
        return int(v["v"])
    if tag == "nat":
        return pd.NaT
    if tag == "ts":
        return pd.Timestamp(v["v"]).as_unit(v["unit"])
    if tag == "td":
        return pd.Timedelta(v["v"], unit="ns").as_unit(v["unit"])
    if tag == "dt":
        return datetime.fromisoformat(v["v"])
    if tag == "date":
        return date.fromisoformat(v["v"])
    if tag == "pytd":
        return timedelta(days=v["v"][0], seconds=v["v"][1], microseconds=v["v"][2])
    if tag == "dec":
        return Decimal(v["v"])
    if tag == "np":
        return _unarray(v["dt"], [v["v"]])[0]
    if tag == "nd":
        return _unarray(v["dt"], v["v"]).reshape(v["shape"])
    if tag == "ix":
        values = _uncolumn(v["data"])
        return pd.Index(values, name=_hashable(_dec(v["name"])), dtype=values.dtype)
    if tag == "mix":
        return pd.MultiIndex.from_arrays([_uncolumn(x) for x in v["levels"]],
                                         names=[_hashable(_dec(n)) for n in v["names"]])
    if tag == "s":
        values = _uncolumn(v["data"])
        return pd.Series(values, index=_dec(v["index"]), name=_hashable(_dec(v["name"])), dtype=values.dtype)
    if tag == "df":
        cols = _dec(v["cols"])
        index = _dec(v["index"])
        frame = pd.DataFrame({i: pd.Series(_uncolumn(d), index=index, copy=False)
                              for i, d in enumerate(v["data"])}, index=index)
        frame.columns = cols  # the columns' own labels, dtype and name
        return frame
    raise ValueError(f"unknown cache tag {tag!r}")


def _hashable(v):
    return tuple(_hashable(x) for x in v) if isinstance(v, list) else v


__all__ = ["FORMAT", "dumps", "loads"]
