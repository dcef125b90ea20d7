"""bench/results.py decides whether a figure meets its target, in one place."""

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.results import Figure, read_json, write_json  # noqa: E402


def test_met_follows_the_direction():
    assert Figure("p95", 28.0, "ms", target=500).met is True
    assert Figure("p95", 501.0, "ms", target=500).met is False
    assert Figure("throughput", 900.0, "rec/s", target=1000, better="higher").met is False
    assert Figure("throughput", 1000.0, "rec/s", target=1000, better="higher").met is True
    assert Figure("no target", 3.0, "s").met is None
    assert Figure("not measured", None, "s", target=1, note="Chromium missing").met is None
    with pytest.raises(ValueError):
        Figure("x", 1.0, "s", better="up")


def test_json_round_trip(tmp_path):
    path = tmp_path / "f.json"
    write_json(path, "web", [Figure("p95", 28.0, "ms", target=500, note="200 walls")],
               started=time.time() - 2, context={"walls": 200})
    doc = read_json(path)
    assert doc["bench"] == "web" and doc["context"] == {"walls": 200} and doc["seconds"] >= 2
    assert doc["figures"][0] | {} == {"name": "p95", "value": 28.0, "unit": "ms", "target": 500,
                                      "better": "lower", "note": "200 walls", "met": True}
    write_json(None, "web", [], started=time.time())  # no --json: nothing written
    assert json.loads(path.read_text())["bench"] == "web"
