"""Reading SQL into DataFrames fast: raw cursor rows, time columns converted in numpy.

Times: SQL stores UTC (naive text on SQLite, ``timestamptz`` on PostgreSQL). Loaders read
them as text (SQLite) or epoch seconds (PostgreSQL) and convert vectorised to
``datetime64[us, UTC]`` — going through SQLAlchemy's per-value type processing would cost
more than the KPI maths.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
from sqlalchemy import Float, Text, cast, func
from sqlalchemy.engine import Connection

from ioc.kpi.values import UNKNOWN



def dialect_name(conn) -> str:
    return conn.dialect.name


SQLITE_MMAP_BYTES = 1 << 30


def connect(engine):
    """``engine.connect()`` with SQLite reads memory-mapped (``PRAGMA mmap_size``): the
    KPI queries read scattered rows of large tables, and the default 2 MB page cache
    turns each into a read() call. Set once per pooled DBAPI connection."""
    conn = engine.connect()
    if conn.dialect.name == "sqlite":
        info = conn.connection.info
        if not info.get("ioc_kpi_mmap"):
            conn.exec_driver_sql(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            info["ioc_kpi_mmap"] = True
    return conn


@contextmanager
def gc_paused():
    """The cyclic garbage collector off while a bulk read builds its rows: 50,000 rows are
    hundreds of thousands of new tuples, and each collection they trigger walks the whole
    process's heap (a web worker's: the app and its caches) — ≈ 40 % of reading the map's
    ticket points (docs/views.md § Cost). Reference counting still frees what is dropped;
    a cycle made meanwhile waits for the next collection."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def in_list(col, values: Sequence, dialect: str):
    """``col IN (values)``; on PostgreSQL ``col = ANY(:array)`` — one parameter whatever
    the length, so the statement is prepared once (a long IN list costs more to render
    and plan than the query)."""
    if dialect == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return col == any_(bindparam(None, list(values), type_=ARRAY(Text)))
    return col.in_(list(values))


def tcol(col, dialect: str, name: str | None = None):
    """A UTC datetime column as cheap-to-convert raw values (see module docstring)."""
    label = name or col.key
    if dialect == "sqlite":
        return cast(col, Text).label(label)
    return func.date_part("epoch", col).label(label)


def epoch_expr(col, dialect: str):
    """Seconds since 1970 as a float SQL expression (for arithmetic inside SQL)."""
    if dialect == "sqlite":
        return (func.julianday(col) - 2440587.5) * 86400.0
    return cast(func.date_part("epoch", col), Float)


def to_utc(values, dialect: str) -> pd.Series:
    """Raw time values from :func:`tcol` → ``datetime64[us, UTC]`` (NaT for NULL)."""
    s = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    if len(s) == 0:
        return pd.Series(pd.DatetimeIndex([], tz="UTC"), index=s.index, dtype="datetime64[us, UTC]")
    if dialect == "sqlite":
        try:  # the stored text is ISO: numpy parses it without pandas' format inference
            arr = np.array([None if v is None else v for v in s.to_numpy(dtype=object)], dtype="datetime64[us]")
            out = pd.Series(pd.DatetimeIndex(arr).tz_localize("UTC"), index=s.index)
        except (ValueError, TypeError):
            out = pd.to_datetime(s.astype(object), format="ISO8601", utc=True)
    else:  # epoch seconds (float or Decimal; None for NULL) → µs, in numpy
        try:
            num = s.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):
            num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        nat = np.isnan(num)
        us = np.round(np.where(nat, 0.0, num) * 1e6).astype(np.int64).astype("datetime64[us]")
        us[nat] = np.datetime64("NaT")
        return pd.Series(pd.DatetimeIndex(us).tz_localize("UTC"), index=s.index)
    return out.astype("datetime64[us, UTC]")


def fetch(conn: Connection, stmt, time_columns: Iterable[str] = (), *, raw: bool = True) -> pd.DataFrame:
    """Run ``stmt``; DataFrame with its labels as columns, time columns converted.

    ``raw`` reads the DBAPI cursor's tuples directly (no SQLAlchemy result processing —
    fine for text, numbers and the raw time values of :func:`tcol`; not for JSON or
    booleans, which need ``raw=False``). Rows are transposed into columns:
    ``DataFrame.from_records`` on SQLAlchemy ``Row`` objects probes attributes per row."""
    res = conn.execute(stmt)
    cols = list(res.keys())
    rows = res.cursor.fetchall() if raw and res.cursor is not None else res.fetchall()
    if rows:
        data = list(zip(*rows))
        df = pd.DataFrame({c: pd.Series(v, dtype=object) if _mixed(v) else list(v) for c, v in zip(cols, data)})
    else:
        df = pd.DataFrame({c: [] for c in cols})
    d = dialect_name(conn)
    for c in time_columns:
        df[c] = to_utc(df[c], d)
    return df


def _mixed(values: tuple) -> bool:
    """Keep None-bearing text/bool columns as objects (pandas would guess otherwise)."""
    return None in values  # C-level scan


def _group_key(v) -> str:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
        return UNKNOWN
    if isinstance(v, str):
        return v if v.strip() else UNKNOWN
    v = v.item() if isinstance(v, np.generic) else v
    return str(v)


def group_keys(s: pd.Series) -> pd.Series:
    """Vectorised :func:`ioc.kpi.values.key_of`: missing or blank → ``"unknown"`` (the rule
    runs once per distinct value)."""
    codes, uniq = pd.factorize(s.to_numpy(dtype=object))  # missing → -1
    mapped = np.array([_group_key(v) for v in uniq] + [UNKNOWN], dtype=object)
    return pd.Series(mapped[codes], index=s.index, dtype=object)
