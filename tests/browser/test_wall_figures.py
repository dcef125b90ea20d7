"""The wall shows the product's figures: each tile's big number equals what `ioc kpi --json`
says, printed the Vietnamese way (thousands '.', decimal ',': "93,1 %", "1.234")."""

from __future__ import annotations

import re
import time

import pytest

from datetime import timedelta

from ioc.kpi.environment import DEFAULT_MAX_AGE_BY_KIND
from simulator.environment import KINDS

from .iocbrowser import SIM_BEHIND, expected_tiles, open_wall, tile_values

pytestmark = pytest.mark.browser


def test_the_frozen_simulator_keeps_an_air_figure_current_at_every_minute():
    # the oldest the last visible air hour gets: the clock's lag, the upstream's delay (up to 600 s
    # of jitter on top), and a whole hour when the wall clock is just before the next hour shows up
    _sensor, _params, _step, lag_s = KINDS["air"]
    oldest = SIM_BEHIND + timedelta(seconds=lag_s + 600) + timedelta(hours=1)
    assert oldest < DEFAULT_MAX_AGE_BY_KIND["air"], (oldest, DEFAULT_MAX_AGE_BY_KIND["air"])


def test_wall_tiles_equal_the_kpi_snapshot(stack, kiosk):
    open_wall(kiosk, stack)
    # the simulator's clock stands still, so the figures do too; a few tries cover a recompute
    # (alerts are re-evaluated every 15 s) landing between the two reads
    deadline = time.monotonic() + 20
    while True:
        snap = stack.kpi_json()
        expected = expected_tiles(snap)
        shown = tile_values(kiosk)
        if shown == expected or time.monotonic() > deadline:
            break
        time.sleep(1)
    print(f"\n[wall figures] shown {shown}\n               kpi   {expected} (snapshot served from "
          f"{snap.get('served_from')}, generated {snap.get('generated_at')})")

    assert "—" not in expected.values(), f"the stack has no figure for some tile: {expected}"
    assert shown == expected, f"wall tiles differ from `ioc kpi --json`: shown {shown}, expected {expected}"
    # the formats themselves, stated once more without the helper
    assert re.fullmatch(r"\d{1,3},\d %", shown["cameras"]), shown["cameras"]
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*", shown["hotline"]), shown["hotline"]
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*,\d / \d{1,3}", shown["qd766"]), shown["qd766"]
