"""The simulator's clock.

    sim_now = min(wall_now, wall_start − replay + speed × (wall_now − wall_start) + offset)

``replay`` is 0 at speed 1 and 6 hours by default when speed > 1, so the last hours replay
quickly and then the clock runs into wall time and stays there. ``offset`` comes from
``POST /_control/clock``. In frozen mode the clock stands still at ``frozen_at`` until told
to move. The simulated time is never later than the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class SimClock:
    def __init__(
        self,
        speed: float = 1.0,
        replay_hours: float | None = None,
        frozen_at: float | None = None,
        wall: Callable[[], float] = time.time,
    ):
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.wall = wall
        self.wall_start = wall()
        self.speed = float(speed)
        if replay_hours is None:
            replay_hours = 0.0 if speed == 1 else 6.0
        self.replay_s = float(replay_hours) * 3600
        self.offset = 0.0
        self.frozen_at = None if frozen_at is None else float(frozen_at)

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None

    def _running(self, w: float) -> float:
        return self.wall_start - self.replay_s + self.speed * (w - self.wall_start)

    def now(self) -> int:
        """Simulated now in whole epoch seconds."""
        w = self.wall()
        if self.frozen_at is not None:
            return int(min(self.frozen_at, w))
        return int(min(w, self._running(w) + self.offset))

    def advance(self, hours: float) -> int:
        if self.frozen_at is not None:
            self.frozen_at = min(self.frozen_at + hours * 3600, self.wall())
        else:
            self.offset += hours * 3600
        return self.now()

    def set(self, epoch: float) -> int:
        w = self.wall()
        epoch = min(float(epoch), w)
        if self.frozen_at is not None:
            self.frozen_at = epoch
        else:
            self.offset = epoch - self._running(w)
        return self.now()

    def freeze(self, on: bool) -> int:
        if on and self.frozen_at is None:
            self.frozen_at = float(self.now())
        elif not on and self.frozen_at is not None:
            # resume running from where it stood
            at = self.frozen_at
            self.frozen_at = None
            self.offset = 0.0
            self.offset = at - self._running(self.wall())
        return self.now()

    def describe(self) -> dict:
        return {
            "frozen": self.frozen,
            "speed": self.speed,
            "replay_hours": self.replay_s / 3600,
            "offset_hours": self.offset / 3600,
        }
