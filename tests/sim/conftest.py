"""Fixtures for the simulator tests: one shared server (frozen clock, 20 days of history)."""

from __future__ import annotations

import os

import httpx
import pytest

from simulator.testing import running_simulator

SEED = int(os.environ.get("SIM_TEST_SEED", "7"))  # change it to hunt for date/seed-dependent flakiness


@pytest.fixture(scope="session")
def sim():
    at = os.environ.get("SIM_TEST_AT")  # e.g. 2026-02-18T10:00:00+07:00 to try another date
    with running_simulator(seed=SEED, history_days=20, frozen=True, frozen_at=at) as handle:
        yield handle


@pytest.fixture()
def client(sim):
    with httpx.Client(base_url=sim.base_url, timeout=30) as c:
        yield c
    sim.clear_faults()


@pytest.fixture()
def fresh():
    """A private simulator whose clock a test may move."""
    at = os.environ.get("SIM_TEST_AT")
    with running_simulator(seed=SEED, history_days=3, frozen=True, scale=0.2, frozen_at=at) as handle:
        yield handle
