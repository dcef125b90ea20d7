"""The briefing view: everything a daily or weekly PDF briefing shows, as display-ready
Vietnamese text, built from the read model.

Figures come from the period queries (``ioc.kpi.periods.period_figures``, the function behind
``ioc kpi --json --period …``), called once per briefing with the same arguments as the CLI, so
every number equals the command's; the rest (alert episodes, long-offline cameras, the sources'
polls, commune outlines) from ``ioc.views.briefing_sources`` and the commune atlas.

Every number in the narrative is one of the tables' formatted values; ``expected`` lists the
ones the post-render check must find in the PDF's text. No personal data: tickets appear only
as counts by category, commune and agency.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ioc.formatting import format_datetime, format_number
from ioc.i18n import t
from ioc.kpi.periods import PeriodError, period_figures
from ioc.views import briefing_sources as src
from ioc.views.briefing_text import TITLE
from ioc.views.text import (QD766_MIN_DOSSIERS, SEVERITY_ICON, alert_sentence, category_name, qd766_dossiers,
                            qd766_label)

PERIODS = ("day", "week")
DOMAINS = ("hotline", "cameras", "environment", "procedures")
LANG = "vi"  # the briefing is written in Vietnamese (leaders' language); figures are language-neutral
TOP_ROWS = 5
# The map's key layer: 1022 requests received in the period per commune (class breaks, blues).
MAP_BREAKS = (1, 3, 6, 11)
MAP_COLOURS = ("#f2f2f2", "#c6dbef", "#6baed6", "#2171b5", "#08306b")  # 0, 1–2, 3–5, 6–10, ≥ 11
SECTION_TITLES = {
    "summary": "Tóm tắt",
    "headline": "Chỉ tiêu chính so với kỳ trước",
    "hotline": "Tổng đài 1022 — phản ánh, kiến nghị",
    "cameras": "Camera an ninh",
    "environment": "Môi trường — không khí và nước",
    "procedures": "Thủ tục hành chính — chỉ số QĐ 766",
    "alerts": "Cảnh báo trong kỳ",
    "map": "Bản đồ 102 xã, phường",
    "coverage": "Độ đầy đủ của số liệu",
}


class BriefingInputError(ValueError):
    """A briefing cannot be made from this input (one line, for the CLI). ``code`` says why in
    a word the pages translate (ioc.views.briefing_text): no_data, not_begun or input."""

    def __init__(self, message: str, code: str = "input") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    empty: str = "Không có"
    swatches: list[str | None] | None = None  # a colour per row (official category colours)
    note: str = ""


@dataclass
class Headline:
    label: str
    current: str
    previous: str
    change: str  # "▲ +3", "▼ −0,3 điểm %", "■ 0", "—"
    tone: str  # good | bad | neutral | none


@dataclass
class Bars:
    """A bar chart: (label, value or None) in order; colours per bar; a reference line."""
    figure: str  # its id in the PDF (ioc/briefings/charts.FIGURES)
    title: str
    points: list[tuple[str, float | None]]
    colours: list[str]
    unit: str = ""
    reference: float | None = None
    reference_label: str = ""

    @property
    def has_data(self) -> bool:
        return any(v for _label, v in self.points)  # all missing or all 0: nothing to draw


@dataclass
class MapLayer:
    title: str
    features: list[dict]  # GeoJSON features of the communes (simplified outlines), property code
    colour: dict[str, str]  # commune code → fill colour
    legend: list[tuple[str, str]]  # (colour, label)
    note: str = ""


@dataclass
class BriefingView:
    period: str
    first_day: date
    last_day: date
    title: str
    period_label: str
    made_at: str
    complete: bool
    narrative: str
    headline: list[Headline]
    sections: dict[str, dict]  # section key → {"tables": [(subtitle, Table)], "charts": [Bars], "text": [str]}
    map: MapLayer
    coverage: list[str]
    missing: list[str]  # sources without figures (or only zeros) in the period, by name
    not_fresh: list[str] = field(default_factory=list)  # "Quan trắc môi trường (Cũ từ 09:40)" at making time
    expected: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict, repr=False)
    period_start: datetime | None = None
    period_end: datetime | None = None

    def drawn_figures(self) -> list[str]:
        """The figures that have something to draw: the check expects ink in each. A chart
        without any value is replaced by a sentence saying so, not drawn empty."""
        ids = [c.figure for sec in self.sections.values() for c in sec.get("charts") or [] if c.has_data]
        return ids + (["fig-map"] if self.map.features else [])


# --- formats ------------------------------------------------------------------------------


def n(v, d: int = 0) -> str:
    return format_number(v, d, lang=LANG)


def p(v, d: int = 1) -> str:
    return "—" if v is None else f"{format_number(v, d, lang=LANG)} %"


def _change(cur, prev, *, d: int = 0, unit: str = "", higher_is_better: bool | None = None) -> tuple[str, str]:
    if cur is None or prev is None:
        return "—", "none"
    diff = round(cur - prev, d)
    if diff == 0:
        return "■ 0", "neutral"
    arrow, sign = ("▲", "+") if diff > 0 else ("▼", "−")
    tone = "neutral" if higher_is_better is None else ("good" if (diff > 0) == higher_is_better else "bad")
    return f"{arrow} {sign}{format_number(abs(diff), d, lang=LANG)}{unit}", tone


def _dm(day: date) -> str:
    return day.strftime("%d/%m/%Y")


# --- the view -------------------------------------------------------------------------------


def figures_for(views, period: str, day: date) -> dict:
    """The period figures exactly as ``ioc kpi --json --period {period} --date {day}`` gives them."""
    if period not in PERIODS:
        raise BriefingInputError(f"unknown period {period!r}: choose day or week")
    try:
        return period_figures(views.engine(), period, date=day, tz=views.settings.tz, store=views.store)
    except PeriodError as e:
        raise BriefingInputError(str(e), "not_begun" if "has not begun" in str(e) else "input") from None


def _has(res: Mapping, domain: str) -> bool:
    d = res.get(domain) or {}
    if not d.get("has_data"):
        return False
    if domain == "procedures":
        c = ((d.get("province") or {}).get("counts") or {})
        return bool(c.get("received") or c.get("finished") or c.get("overdue_unfinished"))
    figs = d.get("figures") or {}
    return any(v not in (None, 0) for v in figs.values())


def briefing_view(views, period: str, day: date, *, progress=lambda step: None) -> BriefingView:
    """The briefing of ``period`` (day | week) ending on ``day``."""
    progress("figures")
    res = figures_for(views, period, day)
    missing = [t(f"source.{d}", LANG) for d in DOMAINS if not _has(res, d)]
    if len(missing) == len(DOMAINS):
        raise BriefingInputError(f"no data for the {period} ending {day.isoformat()}: no source has figures "
                                 "for it (check `ioc connectors status` and the date)", "no_data")
    per = res["period"]
    start = datetime.fromisoformat(per["start"])
    end = datetime.fromisoformat(per["end"])
    first, last = date.fromisoformat(per["first_day"]), date.fromisoformat(per["last_day"])
    names = _commune_names(views)
    now = views.clock()
    tz = views.tz

    progress("trend")
    trend = _hotline_trend(views, last)
    progress("tables")
    expected: list[str] = []
    sections = {
        "hotline": _hotline(res, names, trend, expected),
        "cameras": _cameras(views, res, names, now, expected),
        "environment": _environment(views, res, start, end, expected),
        "procedures": _procedures(res, names, expected),
        "alerts": _alerts(views, start, end, tz, names),
    }
    headline = _headline(res, period, expected)
    narrative = _narrative(res, period, first, last, sections, names)
    # the check finds each headline row whole (label, this period, previous, change) and the
    # narrative word for word, not only the bare numbers
    expected += [f"{h.label} {h.current} {h.previous} {h.change}" for h in headline] + [narrative]
    progress("map")
    layer = _map(views, res, names)
    coverage = _coverage(views, res, start, end, tz, missing)
    label = (f"Ngày {_dm(last)}" if period == "day" else f"Tuần {_dm(first)} – {_dm(last)}")
    if not per.get("complete"):
        label += f" (số liệu đến {format_datetime(datetime.fromisoformat(per['as_of']), tz)})"
    return BriefingView(
        period=period, first_day=first, last_day=last,
        title=TITLE["daily" if period == "day" else "weekly"],
        period_label=label, made_at=format_datetime(now, tz), complete=bool(per.get("complete")),
        narrative=narrative, headline=headline, sections=sections, map=layer, coverage=coverage,
        missing=missing, not_fresh=_not_fresh(views), expected=sorted(set(expected)), figures=res,
        period_start=start, period_end=end)


def _commune_names(views) -> dict[str, str]:
    try:
        return dict(views.atlas.names())
    except Exception:  # noqa: BLE001 - no boundaries: codes stand in for names
        return {}


def _place(code, names: Mapping[str, str]) -> str:
    if code in (None, "", "unknown"):
        return "Chưa xác định xã"
    return names.get(str(code)) or f"Xã mã {code}"


def _hotline_trend(views, last: date) -> Bars:
    """Requests received per day over the 7 days ending ``last`` (one day query each: closed
    days are cached by the period queries)."""
    points: list[tuple[str, float | None]] = []
    for i in range(6, -1, -1):
        d = last - timedelta(days=i)
        try:
            r = period_figures(views.engine(), "day", date=d, tz=views.settings.tz, store=views.store,
                               domains=("hotline",))
            h = r.get("hotline") or {}
            v = (h.get("figures") or {}).get("received") if h.get("has_data") else None
        except PeriodError:
            v = None
        points.append((d.strftime("%d/%m"), v))
    return Bars(figure="fig-hotline-trend", title="Phản ánh tiếp nhận mỗi ngày (7 ngày)", points=points, colours=["#2171b5"] * len(points),
                unit="phản ánh")


def _hotline(res, names, trend: Bars, expected: list[str]) -> dict:
    h = res.get("hotline") or {}
    f = h.get("figures") or {}
    by = h.get("by") or {}
    if not h.get("has_data"):
        return {"tables": [], "charts": [trend], "text": ["Chưa có số liệu Tổng đài 1022 trong kỳ."]}
    facts = Table(["Chỉ tiêu", "Giá trị"], [
        ["Tiếp nhận", n(f.get("received"))],
        ["Đã trả lời", n(f.get("answered"))],
        ["Trả lời đúng hạn (trong số đã trả lời)", p(f.get("on_time_pct"))],
        ["Tỷ lệ đã trả lời", p(f.get("answered_pct"))],
        ["Đang xử lý", n(f.get("in_progress"))],
        ["Quá hạn chưa trả lời", n(f.get("overdue"))],
        ["Trả lời trễ hạn", n(f.get("answered_late"))],
        ["Thời gian trả lời trung vị", "—" if f.get("median_hours_to_answer") is None
         else f"{n(f.get('median_hours_to_answer'), 1)} giờ"],
    ])
    expected += [n(f.get("received")), n(f.get("answered")), n(f.get("overdue"))]
    overdue = sorted(((a, v) for a, v in (by.get("agency") or {}).items() if (v.get("overdue") or 0) > 0),
                     key=lambda kv: -kv[1]["overdue"])
    overdue_t = Table(["Cơ quan chịu trách nhiệm", "Quá hạn", "Đang xử lý"],
                      [[a, n(v.get("overdue")), n(v.get("in_progress"))] for a, v in overdue],
                      empty="Không có phản ánh quá hạn.")
    cats = sorted((by.get("category") or {}).items(), key=lambda kv: (-(kv[1].get("received") or 0), kv[0]))
    cat_t = Table(["Lĩnh vực", "Tiếp nhận", "Quá hạn"],
                  [[c, n(v.get("received")), n(v.get("overdue"))] for c, v in cats[:TOP_ROWS]],
                  note=f"{n(min(TOP_ROWS, len(cats)))} trong {n(len(cats))} lĩnh vực")
    com = sorted((by.get("commune") or {}).items(), key=lambda kv: (-(kv[1].get("received") or 0), kv[0]))
    com_t = Table(["Xã, phường", "Tiếp nhận", "Quá hạn"],
                  [[_place(c, names), n(v.get("received")), n(v.get("overdue"))] for c, v in com[:TOP_ROWS]],
                  note=f"{n(min(TOP_ROWS, len(com)))} trong {n(len(com))} xã, phường có phản ánh")
    return {"tables": [("Số liệu trong kỳ", facts), ("Phản ánh quá hạn theo cơ quan", overdue_t),
                       ("Lĩnh vực nhiều phản ánh nhất", cat_t), ("Xã, phường nhiều phản ánh nhất", com_t)],
            "charts": [trend], "text": [], "overdue": overdue}


def _cameras(views, res, names, now: datetime, expected: list[str]) -> dict:
    c = res.get("cameras") or {}
    f = c.get("figures") or {}
    engine = views.engine()
    rows = src.long_offline_cameras(engine, now)
    total = src.camera_total(engine)
    if not c.get("has_data"):
        text = ["Chưa có số liệu camera trong kỳ."]
        return {"tables": [], "charts": [], "text": text}
    facts = Table(["Chỉ tiêu", "Giá trị"], [
        ["Thời gian trực tuyến (trên thời gian biết trạng thái)", p(f.get("availability_pct"))],
        ["Số lần camera mất kết nối", n(f.get("offline_events"))],
        ["Camera trong danh mục", n(total)],
        ["Camera đang mất kết nối quá 24 giờ (lúc lập bản tin)", n(sum(r["count"] for r in rows))],
    ])
    expected += [p(f.get("availability_pct")), n(f.get("offline_events"))]
    off = Table(["Xã, phường", "Cơ quan quản lý", "Số camera", "Lâu nhất"],
                [[_place(r["commune"], names), r["agency"] or "Chưa rõ", n(r["count"]), _duration(r["hours"])]
                 for r in rows[:12]],
                empty=f"Lúc lập bản tin không có camera nào mất kết nối quá "
                      f"{n(src.LONG_OFFLINE.total_seconds() / 3600)} giờ.",
                note="" if len(rows) <= 12 else f"12 trong {n(len(rows))} nhóm")
    worst = sorted(((k, v) for k, v in (c.get("by_commune") or {}).items() if v is not None), key=lambda kv: kv[1])
    worst_t = Table(["Xã, phường", "Trực tuyến"], [[_place(k, names), p(v)] for k, v in worst[:TOP_ROWS]])
    return {"tables": [("Số liệu trong kỳ", facts), ("Camera đang mất kết nối quá 24 giờ (lúc lập bản tin)", off),
                       ("Xã, phường có tỷ lệ trực tuyến thấp nhất", worst_t)], "charts": [], "text": [],
            "long_offline": sum(r["count"] for r in rows)}


def _duration(hours: float) -> str:
    if hours < 48:
        return f"{n(hours)} giờ"
    return f"{n(hours / 24)} ngày"


def _aqi_category(v):
    if v is None:
        return None, None
    from ioc.kpi import aqi as aqi_mod  # the official table (QĐ 1459): its names and colours

    c = aqi_mod.category(v)
    return c.key, c.hex


def _environment(views, res, start, end, expected: list[str]) -> dict:
    e = res.get("environment") or {}
    f = e.get("figures") or {}
    if not e.get("has_data"):
        return {"tables": [], "charts": [], "text": ["Chưa có số liệu quan trắc môi trường trong kỳ."]}
    stations = []
    for sid, st in (e.get("daily_aqi") or {}).items():
        stations.append((st.get("name") or sid, st.get("max_aqi"), st.get("mean_aqi"), st.get("days_with_aqi")))
    stations.sort(key=lambda r: (-(r[1] if r[1] is not None else -1), r[0]))
    rows, sw, bars, colours = [], [], [], []
    for name, mx, mean, days in stations:
        key, hex_ = _aqi_category(mx)
        rows.append([_short_station(name), n(mx) if mx is not None else "—",
                     category_name("aqi", key, LANG) or "Chưa đủ số liệu", n(mean) if mean is not None else "—"])
        sw.append(hex_)
        label = _short_station(name).replace("Khu công nghiệp", "KCN")  # the usual abbreviation, on a chart
        bars.append((label if len(label) <= 18 else label[:17] + "…", mx))
        colours.append(hex_ or "#999999")
    aqi_t = Table(["Trạm không khí", "VN_AQI ngày cao nhất", "Mức (QĐ 1459)", "Trung bình"], rows, swatches=sw,
                  empty="Không có trạm quan trắc không khí.")
    facts = Table(["Chỉ tiêu", "Giá trị"], [
        ["VN_AQI ngày cao nhất", n(f.get("max_daily_aqi"))],
        ["VN_AQI ngày trung bình", n(f.get("mean_daily_aqi"), 1)],
        ["Trạm-ngày VN_AQI trên 100", n(f.get("station_days_aqi_over_100"))],
        ["Trạm-ngày vượt QCVN 05:2023 (không khí)", n(f.get("air_exceedance_station_days"))],
        ["Lượt đo nước vượt QCVN 08:2023 mức B", f"{n(f.get('water_exceedances'))} / "
                                                 f"{n(f.get('water_observations_judged'))}"],
    ])
    expected += [n(f.get("max_daily_aqi")), n(f.get("water_exceedances"))]
    water = sorted((e.get("water_exceedances") or {}).items(), key=lambda kv: -(kv[1].get("exceedance_pct") or 0))
    water_t = Table(["Thông số (nước mặt)", "Lượt vượt", "Lượt đo", "Tỷ lệ vượt"],
                    [[_PARAM.get(k, k), n(v.get("exceedances")), n(v.get("observations")), p(v.get("exceedance_pct"))]
                     for k, v in water if (v.get("exceedances") or 0) > 0],
                    empty="Không có lượt đo vượt quy chuẩn.")
    wqi = _wqi_now(views)
    chart = Bars(figure="fig-aqi-stations", title="VN_AQI ngày cao nhất theo trạm (màu và mức theo QĐ 1459)", points=bars, colours=colours,
                 reference=100, reference_label="100")
    episodes = [a for a in src.period_alerts(views.engine(), start, end)
                if a["rule"] in ("aqi", "salinity", "water_level", "insects")]
    ep_t = Table(["Đợt", "Mức", "Từ", "Đến"],
                 [[_episode_name(a["rule"]), _SEV.get(a["severity"], a["severity"]),
                   format_datetime(a["first_at"], views.tz),
                   format_datetime(a["resolved_at"], views.tz) if a["resolved_at"] else "đang diễn ra"]
                  for a in episodes],
                 empty="Không có đợt ô nhiễm, xâm nhập mặn, lũ hay sinh vật gây hại được cảnh báo trong kỳ.")
    tables = [("Số liệu trong kỳ", facts), ("Chất lượng không khí theo trạm", aqi_t)]
    if wqi is not None:
        tables.append(("Chất lượng nước hiện tại (VN_WQI, QĐ 1460)", wqi))
    tables += [("Nước mặt vượt QCVN 08:2023 (mức B)", water_t),
               ("Đợt ô nhiễm, xâm nhập mặn, đỉnh lũ, sinh vật gây hại", ep_t)]
    return {"tables": tables, "charts": [chart], "text": []}


_PARAM = {"bod5": "BOD₅", "cod": "COD", "coliform": "Coliform", "do": "DO", "n_nh4": "N-NH₄", "n_no3": "N-NO₃",
          "n_no2": "N-NO₂", "p_po4": "P-PO₄", "ph": "pH", "tss": "TSS", "turbidity": "Độ đục"}
_SEV = {"critical": "Nghiêm trọng", "warning": "Cảnh báo", "info": "Thông tin"}


def _episode_name(rule: str) -> str:
    return {"aqi": "Ô nhiễm không khí", "salinity": "Xâm nhập mặn", "water_level": "Mực nước, đỉnh lũ",
            "insects": "Sinh vật gây hại (bẫy đèn)"}.get(rule, rule)


def _short_station(name: str, width: int = 60) -> str:
    for prefix in ("Trạm quan trắc không khí tự động ", "Trạm quan trắc "):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name if len(name) <= width else name[: width - 1] + "…"


def _wqi_now(views) -> Table | None:
    """The water stations as the wall shows them now (the snapshot's worst stations, VN_WQI in
    the official colours): the period figures hold no VN_WQI per station."""
    try:
        panel = views.focus("worst_stations", LANG)
    except Exception:  # noqa: BLE001 - Redis down: the section says so instead
        return None
    rows, sw = [], []
    for row, colour in zip(panel.rows, panel.row_colours or [None] * len(panel.rows)):
        if len(row) >= 4 and row[1] == "VN_WQI":
            rows.append([row[0], row[2], row[3]])
            sw.append(colour)
    return Table(["Trạm nước", "VN_WQI", "Mức"], rows, swatches=sw,
                 empty=panel.empty_text or "Chưa có số liệu VN_WQI.",
                 note=f"Lúc lập bản tin · {panel.freshness.label}")


def _ind_name(code: str, entry: Mapping) -> str:
    if entry.get("name_vi"):
        return entry["name_vi"]
    try:
        from ioc.kpi.qd766 import INDICATORS

        return INDICATORS[code].name_vi
    except Exception:  # noqa: BLE001 - an indicator the table does not name
        return code


def _procedures(res, names, expected: list[str]) -> dict:
    pr = res.get("procedures") or {}
    prov = pr.get("province") or {}
    if not pr.get("has_data") or prov.get("score") is None:
        return {"tables": [], "charts": [], "text": ["Chưa có hồ sơ trong kỳ để chấm điểm QĐ 766."]}
    prev_ind = ((pr.get("previous") or {}).get("province") or {}).get("indicators") or {}
    rows = []
    for code, ind in sorted((prov.get("indicators") or {}).items(), key=lambda kv: [int(x) for x in kv[0].split(".")
                                                                                    if x.isdigit()]):
        unit = ind.get("unit")
        val = ind.get("value")
        shown = ("—" if val is None else f"{n(val, 2)} ngày") if unit == "days" else p(val)
        prev = (prev_ind.get(code) or {}).get("value")
        prev_s = ("—" if prev is None else f"{n(prev, 2)} ngày") if unit == "days" else p(prev)
        pts = "không chấm điểm" if ind.get("max_points") is None else (
            f"{n(ind.get('score'), 2) if ind.get('score') is not None else '—'} / {n(ind.get('max_points'), 0)}")
        rows.append([code, _ind_name(code, ind), shown, pts, prev_s])
    score, mx = prov.get("score"), prov.get("max_score")
    share = None if not mx else score / mx * 100
    counts = prov.get("counts") or {}
    expected += [n(score, 2), n(counts.get("received"))]
    ind_t = Table(["Mã", "Chỉ số", "Kỳ này", "Điểm", "Kỳ trước"], rows,
                  note=f"Tổng: {n(score, 2)} / {n(mx, 0)} điểm ({p(share)} tối đa, {qd766_label(share, LANG) or '—'})")
    facts = Table(["Chỉ tiêu", "Giá trị"], [["Hồ sơ tiếp nhận", n(counts.get("received"))],
                                            ["Hồ sơ đã giải quyết", n(counts.get("finished"))],
                                            ["Hồ sơ quá hạn chưa giải quyết", n(counts.get("overdue_unfinished"))]])
    return {"tables": [("Hồ sơ trong kỳ", facts), ("Chỉ số QĐ 766 cấp tỉnh", ind_t),
                       ("Cơ quan điểm thấp nhất (tỷ lệ trên điểm tối đa)", _bottom(pr.get("agency") or {}, None)),
                       ("Xã, phường điểm thấp nhất", _bottom(pr.get("commune") or {}, names))],
            "charts": [], "text": [], "score": score, "max": mx, "share": share}


def _bottom(groups: Mapping, names) -> Table:
    """The units lowest on score, among those with at least QD766_MIN_DOSSIERS dossiers in the
    period (fewer, and a score of 0 or 100 is chance); the count is shown beside the score."""
    rows, few = [], 0
    for k, g in groups.items():
        s, mx = g.get("score"), g.get("max_score")
        if s is None or not mx:
            continue
        dossiers = qd766_dossiers(g)
        if dossiers < QD766_MIN_DOSSIERS:
            few += 1
            continue
        rows.append((s / mx * 100, dossiers, k, g))
    rows.sort(key=lambda r: (r[0], -r[1], r[2]))
    label = (lambda k: _place(k, names)) if names is not None else (lambda k: k)
    min_n = n(QD766_MIN_DOSSIERS)
    note = (f"Chỉ xếp hạng đơn vị có từ {min_n} hồ sơ tiếp nhận hoặc giải quyết trong kỳ"
            + (f"; {n(few)} đơn vị ít hồ sơ hơn không xếp hạng." if few else "."))
    return Table(["Đơn vị", "Điểm", "Tỷ lệ", "Hồ sơ", "Quá hạn"],
                 [[label(k), f"{n(g['score'], 2)} / {n(g['max_score'], 0)}", p(r), n(w),
                   n((g.get('counts') or {}).get("overdue_unfinished"))]
                  for r, w, k, g in rows[:TOP_ROWS]],
                 empty=f"Không có đơn vị nào có từ {min_n} hồ sơ trong kỳ để xếp hạng.", note=note)


def _alerts(views, start, end, tz, names) -> dict:
    episodes = src.period_alerts(views.engine(), start, end)
    stations = src.station_names(views.engine()) if episodes else {}
    cams = src.camera_names(views.engine(), [a["subject"] for a in episodes if a["rule"] == "camera_flapping"])
    rows = []
    for a in episodes[:25]:
        a = dict(a)
        a["subject_name"] = stations.get(a["subject"]) or cams.get(a["subject"]) or names.get(a["subject"])
        rows.append([f"{SEVERITY_ICON.get(a['severity'], '')} {_SEV.get(a['severity'], a['severity'])}",
                     alert_sentence(a, LANG, names), format_datetime(a["first_at"], tz),
                     format_datetime(a["resolved_at"], tz) if a["resolved_at"] else "còn hiệu lực"])
    note = "" if len(episodes) <= 25 else f"25 trong {n(len(episodes))} cảnh báo (nặng nhất trước)"
    t_ = Table(["Mức", "Cảnh báo", "Từ", "Đến"], rows, empty="Không có cảnh báo nào trong kỳ.", note=note)
    return {"tables": [("", t_)], "charts": [], "text": [], "count": len(episodes)}


def _headline(res, period: str, expected: list[str]) -> list[Headline]:
    h = res.get("hotline") or {}
    hf, hp = h.get("figures") or {}, h.get("previous") or {}
    c = res.get("cameras") or {}
    cf, cp = c.get("figures") or {}, c.get("previous") or {}
    e = res.get("environment") or {}
    ef, ep = e.get("figures") or {}, e.get("previous") or {}
    pr = res.get("procedures") or {}
    prov, pprov = pr.get("province") or {}, (pr.get("previous") or {}).get("province") or {}
    pc, ppc = prov.get("counts") or {}, pprov.get("counts") or {}
    rows = [
        ("Phản ánh 1022 tiếp nhận", hf.get("received"), hp.get("received"), 0, "", None, n),
        ("Phản ánh trả lời đúng hạn", hf.get("on_time_pct"), hp.get("on_time_pct"), 1, " điểm %", True, p),
        ("Phản ánh quá hạn", hf.get("overdue"), hp.get("overdue"), 0, "", False, n),
        ("Camera trực tuyến", cf.get("availability_pct"), cp.get("availability_pct"), 1, " điểm %", True, p),
        ("VN_AQI ngày cao nhất", ef.get("max_daily_aqi"), ep.get("max_daily_aqi"), 0, "", False, n),
        ("Điểm QĐ 766", prov.get("score"), pprov.get("score"), 2, " điểm", True, lambda v: n(v, 2)),
        ("Hồ sơ tiếp nhận", pc.get("received"), ppc.get("received"), 0, "", None, n),
        ("Hồ sơ quá hạn chưa giải quyết", pc.get("overdue_unfinished"), ppc.get("overdue_unfinished"), 0, "", False, n),
    ]
    out = []
    for label, cur, prev, d, unit, better, fmt in rows:
        change, tone = _change(cur, prev, d=d, unit=unit, higher_is_better=better)
        out.append(Headline(label, fmt(cur), fmt(prev), change, tone))
        if cur is not None:
            expected.append(fmt(cur))
    return out


def _narrative(res, period: str, first: date, last: date, sections: dict, names) -> str:
    """Plain Vietnamese from the figures: every number is a table's formatted value."""
    when = f"Trong ngày {_dm(first)}" if period == "day" else f"Trong tuần {_dm(first)} – {_dm(last)}"
    prev_word = "hôm trước" if period == "day" else "tuần trước"
    parts = []
    h = res.get("hotline") or {}
    if h.get("has_data"):
        f, pv = h.get("figures") or {}, h.get("previous") or {}
        s = f"Tổng đài 1022 tiếp nhận {n(f.get('received'))} phản ánh"
        if pv.get("received") is not None and f.get("received") is not None:
            d = f["received"] - pv["received"]
            s += (f", tăng {n(d)} so với {prev_word}" if d > 0 else
                  f", giảm {n(-d)} so với {prev_word}" if d < 0 else f", bằng {prev_word}")
        s += f"; đã trả lời {n(f.get('answered'))}"
        if f.get("on_time_pct") is not None:
            s += f", đúng hạn {p(f.get('on_time_pct'))}"
        overdue = sections["hotline"].get("overdue") or []
        if f.get("overdue"):
            who = ", ".join(f"{a} ({n(v.get('overdue'))})" for a, v in overdue[:3])
            s += f"; {n(f.get('overdue'))} phản ánh quá hạn" + (f" thuộc {who}" if who else "")
        else:
            s += "; không có phản ánh quá hạn"
        parts.append(s)
    c = res.get("cameras") or {}
    if c.get("has_data") and (c.get("figures") or {}).get("availability_pct") is not None:
        s = f"camera an ninh trực tuyến {p(c['figures']['availability_pct'])} thời gian"
        lo = sections["cameras"].get("long_offline") or 0
        if lo:
            s += f"; lúc lập bản tin {n(lo)} camera đang mất kết nối quá 24 giờ"
        parts.append(s)
    e = res.get("environment") or {}
    mx = (e.get("figures") or {}).get("max_daily_aqi")
    if e.get("has_data") and mx is not None:
        key, _hex = _aqi_category(mx)
        parts.append(f"VN_AQI ngày cao nhất {n(mx)} ({category_name('aqi', key, LANG)})")
    pr = sections["procedures"]
    if pr.get("score") is not None:
        parts.append(f"điểm QĐ 766 đạt {n(pr['score'], 2)} / {n(pr['max'], 0)}"
                     + (f" ({qd766_label(pr['share'], LANG)})" if pr.get("share") is not None else ""))
    a = sections["alerts"].get("count") or 0
    parts.append(f"có {n(a)} cảnh báo trong kỳ" if a else "không có cảnh báo nào trong kỳ")
    return f"{when}, " + "; ".join(parts) + "."


def _map(views, res, names) -> MapLayer:
    try:
        features = json.loads(views.atlas.geojson()).get("features") or []
    except Exception:  # noqa: BLE001 - no boundaries: an empty map, which the check rejects
        features = []
    by = ((res.get("hotline") or {}).get("by") or {}).get("commune") or {}
    colour = {}
    for ft in features:
        code = str((ft.get("properties") or {}).get("code") or ft.get("id"))
        v = (by.get(code) or {}).get("received") or 0
        colour[code] = MAP_COLOURS[sum(1 for b in MAP_BREAKS if v >= b)]
    legend = [(MAP_COLOURS[0], "0"), (MAP_COLOURS[1], "1–2"), (MAP_COLOURS[2], "3–5"), (MAP_COLOURS[3], "6–10"),
              (MAP_COLOURS[4], "từ 11")]
    return MapLayer(title="Phản ánh 1022 tiếp nhận trong kỳ theo xã, phường", features=features, colour=colour,
                    legend=legend, note=f"{n(len(features))} xã, phường; ranh giới từ dữ liệu đã nhập")


def _not_fresh(views) -> list[str]:
    """Sources not fresh when the briefing is made, with their state in words."""
    try:
        badges, _ = views.badges(LANG)
    except Exception:  # noqa: BLE001 - Redis down: the badges cannot say
        return ["Không đọc được trạng thái các nguồn (kho dữ liệu trực tiếp không trả lời)"]
    return [f"{b.name} ({b.freshness.label})" for b in badges if b.freshness.state != "fresh"]


def _coverage(views, res, start, end, tz, missing: list[str]) -> list[str]:
    lines = []
    cov = src.source_coverage(views.engine(), start, end)
    try:
        badges, _ = views.badges(LANG)
        now_state = {b.source: b.freshness.label for b in badges}
    except Exception:  # noqa: BLE001
        now_state = {}
    for source, c in cov.items():
        name = t(f"source.{source}", LANG)
        if c["runs"] == 0:
            s = f"{name}: không có lượt đọc nào ghi nhận trong kỳ (số liệu của kỳ có thể đã được nạp bù sau)"
        else:
            s = f"{name}: {n(c['runs'])} lượt đọc, {n(c['failed'])} lỗi"
            if c["failed"]:
                s += (f" (từ {format_datetime(c['first_failure'], tz)} đến {format_datetime(c['last_failure'], tz)}"
                      f"; lỗi cuối: {c['last_error']})")
            if c["gaps"]:
                spans = "; ".join(f"{format_datetime(a, tz)} – {format_datetime(b, tz)}" for a, b in c["gaps"][:3])
                s += f"; gián đoạn: {spans}" + (f" và {n(len(c['gaps']) - 3)} lần khác" if len(c["gaps"]) > 3 else "")
        if source in now_state:
            s += f". Lúc lập bản tin: {now_state[source]}"
        lines.append(s + ".")
    if missing:
        lines.append("Nguồn không có số liệu trong kỳ (hoặc chỉ toàn số 0): " + ", ".join(missing) + ".")
    return lines


__all__ = ["BriefingView", "BriefingInputError", "briefing_view", "figures_for", "SECTION_TITLES", "PERIODS",
           "Table", "Bars", "Headline", "MapLayer"]
