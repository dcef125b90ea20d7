"""One figure format for every benchmark, so that bench/run_all can gather them.

Each bench script still prints its figures for a person; with ``--json FILE`` it also writes
them here in this shape::

    {"bench": "web", "started": "…Z", "seconds": 312.4, "context": {…},
     "figures": [{"name": "wall refresh p95", "value": 28.1, "unit": "ms",
                  "target": 500, "better": "lower", "met": true, "note": "200 walls"}]}

``target`` is the figure the issue or the docs ask for (``None`` when there is none);
``better`` says which way is good, so ``met`` is computed here and nowhere else.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path


@dataclass
class Figure:
    name: str
    value: float | None  # None: not measured (the note says why)
    unit: str
    target: float | None = None
    better: str = "lower"  # lower | higher
    note: str = ""
    met: bool | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.better not in ("lower", "higher"):
            raise ValueError(f"better must be 'lower' or 'higher', not {self.better!r}")
        if self.target is not None and self.value is not None:
            self.met = self.value <= self.target if self.better == "lower" else self.value >= self.target


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="FILE", type=Path,
                        help="also write the figures as JSON (bench/results.py; bench/run_all reads it)")


def write_json(path: Path | None, bench: str, figures: list[Figure], *, started: float,
               context: dict | None = None) -> None:
    """Write the figures if ``--json`` was given; ``started`` is ``time.time()`` at the start."""
    if path is None:
        return
    doc = {
        "bench": bench,
        "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        "context": context or {},
        "figures": [asdict(f) for f in figures],
    }
    Path(path).write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
