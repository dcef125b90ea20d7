"""The read model of the sector staff's map ``/map``: one import for the page and the HTTP
endpoints (ioc/web/map_api.py). Sector staff (hotline, security, environment, administrative
procedures) start from the map and end at the records behind a number.

* Filters — ``MapFilters`` (``from_query`` / ``to_query``, ``window``), ``local_day_numbers``, ``SECTORS``,
  ``services(views, lang)``
  (ioc/views/map_filters.py).
* Layers — ``communes_layer`` (choropleth of ``METRICS``), ``ticket_points``, ``density``,
  ``cameras_geobuf``, ``stations_layer``, ``point_legends`` (ioc/views/map_layers.py).
* Clicks — ``ticket_ref`` (a point's row → its id), ``ticket_detail``, ``camera_detail``, ``camera_snapshot``, ``station_series``
  (ioc/views/map_details.py).
* A commune's panel — ``commune_panel`` → ``CommunePanel``; its lists ``commune_list`` →
  ``ListPage`` and, for exports, ``list_all`` (ioc/views/map_lists.py); CSV/XLSX writers
  (ioc/views/exports.py).

Everything is read from SQL with SQLAlchemy Core and bound parameters (SQLite and
PostgreSQL) or from the published map facts; figures are the KPI engine's (period queries,
the hotline and QĐ 766 rules); texts in the requested language; no personal data and no
stream address ever leaves these functions. docs/views.md § The sector map /map."""

from __future__ import annotations

from ioc.views.exports import safe_cell, to_csv, to_xlsx
from ioc.views.map_details import (
    RANGES,
    NotFound,
    camera_detail,
    camera_snapshot,
    station_series,
    ticket_detail,
    ticket_ref,
    ticket_state,
)
from ioc.views.map_filters import (
    CAM_STATUSES,
    MAX_DAYS,
    SECTOR_DEFAULTS,
    SECTOR_SERVICES,
    SECTORS,
    STATUS_STATES,
    STATUSES,
    TICKET_STATES,
    MapFilters,
    filters_for,
    local_day_numbers,
    local_midnight,
    overdue_cutoff,
    sector_options,
    services,
)
from ioc.views.map_layers import (
    CAMERA_COLOURS,
    CELL_DEGREES,
    METRICS,
    TICKET_COLOURS,
    cameras_geobuf,
    communes_layer,
    decode_ticket_points,
    density,
    encode_points,
    point_legends,
    stations_layer,
    ticket_points,
)
from ioc.views.map_lists import (
    EXPORT_MAX,
    LIST_KINDS,
    CommunePanel,
    KpiRow,
    ListPage,
    clear_cache,
    commune_list,
    commune_panel,
    list_all,
)

__all__ = [
    "CAMERA_COLOURS", "CAM_STATUSES", "CELL_DEGREES", "EXPORT_MAX", "LIST_KINDS", "MAX_DAYS", "METRICS", "RANGES",
    "SECTORS", "SECTOR_DEFAULTS", "SECTOR_SERVICES", "STATUSES", "STATUS_STATES", "TICKET_COLOURS", "TICKET_STATES",
    "CommunePanel", "KpiRow", "ListPage", "MapFilters", "NotFound", "camera_detail", "camera_snapshot",
    "cameras_geobuf", "clear_cache", "commune_list", "commune_panel", "communes_layer", "decode_ticket_points",
    "density", "encode_points", "filters_for", "list_all", "local_day_numbers", "local_midnight",
    "overdue_cutoff", "point_legends", "safe_cell",
    "sector_options", "services", "station_series", "stations_layer", "ticket_detail", "ticket_points",
    "ticket_ref", "ticket_state", "to_csv", "to_xlsx",
]
