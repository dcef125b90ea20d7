"""The KPI engine's SQL readers that the read model (``ioc/views``) uses, under the name it
imports them by. The code lives in modules named after their job:

* :mod:`ioc.kpi.sql` — connections and fast SQL → DataFrame reads;
* :mod:`ioc.kpi.parameters` — the parameter vocabulary (stored codes → KPI names);
* :mod:`ioc.kpi.tickets` — hotline tickets: loading, deadlines, figures set-wise;
* :mod:`ioc.kpi.environment_sql` — stations, datastreams, observations;
* :mod:`ioc.kpi.qd766_sql` — the QĐ 766 overdue-dossier rule as SQL conditions;
* :mod:`ioc.kpi.air_grid` — VN_AQI of air stations on an hourly grid;
* (also :mod:`ioc.kpi.cameras_sql`, :mod:`ioc.kpi.stream`, :mod:`ioc.kpi.dates`).

New code should import from those modules; this one only keeps the views' imports working.
"""

from ioc.kpi.air_grid import AirGrid
from ioc.kpi.environment_sql import load_datastreams, load_latest_observations, load_observations, load_stations
from ioc.kpi.parameters import kpi_parameter, water_level_metres
from ioc.kpi.qd766_sql import overdue_where
from ioc.kpi.sql import connect, fetch
from ioc.kpi.tickets import ticket_deadlines, ticket_flags

__all__ = ["AirGrid", "connect", "fetch", "kpi_parameter", "load_datastreams", "load_latest_observations",
           "load_observations", "load_stations", "overdue_where", "ticket_deadlines", "ticket_flags", "water_level_metres"]
