"""Typed views the pages render: every text already localised, every number already formatted,
every state carrying its freshness. Layouts turn these into components and compute nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

State = Literal["fresh", "late", "stale", "failing", "unknown"]


class Freshness(BaseModel):
    """How current a figure is. ``label`` is what the screen says ("Cập nhật", "Chậm từ 09:40",
    "Mất kết nối từ 09:12"); anything but ``fresh`` must be shown beside the figure."""

    state: State
    label: str
    since: datetime | None = None  # last moment the figures were known good
    age_seconds: float | None = None

    @property
    def current(self) -> bool:
        return self.state == "fresh"


class Delta(BaseModel):
    text: str  # "+3 so với hôm qua"
    direction: Literal["up", "down", "flat"]
    tone: Literal["good", "bad", "neutral"]  # is the change for the better?


class Tile(BaseModel):
    key: str
    title: str
    value: str  # formatted, "—" when there is no value
    has_value: bool
    sub: str  # one line of context, or why there is no value
    status: Literal["ok", "warn", "bad", "none"] = "none"  # traffic light against the target
    status_label: str | None = None  # the same state in words (category name, "Đạt", …)
    colour: str | None = None  # official colour of the category, when there is one
    delta: Delta | None = None
    spark: list[float | None] = Field(default_factory=list)  # oldest → newest
    spark_label: str = ""  # what the sparkline covers ("24 giờ qua")
    freshness: Freshness


class AlertItem(BaseModel):
    key: str
    severity: Literal["critical", "warning", "info"]
    severity_label: str
    icon: str  # a text symbol that says the severity without colour
    text: str
    since: str  # "từ 09:40 02/12"
    acked: bool = False


class Ticker(BaseModel):
    items: list[AlertItem]
    total: int | None
    empty_text: str
    freshness: Freshness


class FocusPanel(BaseModel):
    key: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    row_colours: list[str | None] = Field(default_factory=list)  # optional swatch per row
    note: str  # "8 / 157" or what the list means
    empty_text: str
    freshness: Freshness


class SourceBadge(BaseModel):
    source: str
    name: str
    freshness: Freshness


class SourceStatus(BaseModel):
    """A source's card on the status page."""

    source: str
    name: str
    freshness: Freshness
    last_success: str  # "02/12/2026 09:40" or "—"
    newest_data: str
    records_last_run: str
    quarantined: str | None = None  # records refused at the boundary, when any
    last_error: str | None = None  # shown only while the source is not fresh


class SourceFigures(BaseModel):
    """A source's health as numbers, for monitoring (/metrics): not localised."""

    source: str
    state: str  # fresh | late | stale | failing | unknown (ioc.source_health.derive_state)
    lag_seconds: float | None  # age of the newest upstream record read, now
    last_success: float | None  # Unix time of the last successful poll
    consecutive_failures: int
    quarantined: dict[str, int]  # reason code → records held


class LegendEntry(BaseModel):
    colour: str
    label: str


class MapMarker(BaseModel):
    id: str
    lat: float
    lon: float
    label: str  # text inside the marker (a number or a symbol)
    title: str  # tooltip: what it is, in words
    colour: str
    kind: Literal["air", "water", "cameras", "tickets"]


class MapView(BaseModel):
    metric: str
    metric_title: str
    classes: dict[str, int]  # commune code → class index into legend (communes without data absent)
    values: dict[str, str]  # commune code → formatted value for the tooltip
    legend: list[LegendEntry]
    colours: list[str]  # class index → fill colour (what the map's style function reads)
    markers: list[MapMarker]
    marker_legend: list[LegendEntry]
    note: str
    freshness: Freshness
