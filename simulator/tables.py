"""Column tables generated one local day at a time (so a day's rows depend only on the seed,
the scale and the date, never on when the server started), extended as the clock moves."""

from __future__ import annotations

from typing import Callable

import numpy as np

from simulator.common import local_day


class DayStore:
    def __init__(self, gen_day: Callable[[int], dict[str, np.ndarray]], first_day: int, sort_key: str,
                 empty: dict[str, np.ndarray]):
        self.gen_day = gen_day
        self.first_day = int(first_day)
        self.last_day = self.first_day - 1
        self.sort_key = sort_key
        self.cols: dict[str, np.ndarray] = {k: v[:0] for k, v in empty.items()}  # zero rows, right dtypes
        self.version = 0

    def __len__(self) -> int:
        return len(self.cols.get(self.sort_key, ()))

    def ensure_time(self, now: int) -> bool:
        return self.ensure(int(local_day(now)))

    def ensure(self, last_day: int) -> bool:
        if last_day <= self.last_day:
            return False
        parts = [self.gen_day(d) for d in range(self.last_day + 1, last_day + 1)]
        parts = [p for p in parts if p and len(p[self.sort_key])]
        self.last_day = last_day
        if parts:
            self._extend(parts)
        return True

    def append(self, rows: dict[str, np.ndarray]) -> None:
        self._extend([rows])

    def _extend(self, parts: list[dict[str, np.ndarray]]) -> None:
        keys = list(self.cols.keys())
        parts = [self.cols] + parts
        merged = {k: np.concatenate([p[k] for p in parts]) for k in keys}
        order = np.argsort(merged[self.sort_key], kind="stable")
        if not np.all(order[:-1] < order[1:]):
            merged = {k: v[order] for k, v in merged.items()}
        self.cols = merged
        self.version += 1
