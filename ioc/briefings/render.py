"""The briefing as HTML and CSS, printed to an A4 PDF by WeasyPrint with the embedded font.

Single column, 11 pt text and tables one screen wide, so the PDF stays readable on a phone.
Each section starts with its title (the check looks for every one); each figure sits in a box
of the size ``charts.FIGURES`` gives, under that id.
"""

from __future__ import annotations

from html import escape

from ioc.briefings.charts import FIGURES, bars_svg, map_svg
from ioc.briefings.fonts import Font
from ioc.views.briefing import SECTION_TITLES, BriefingView, Table

PROVINCE = "Tỉnh Đồng Tháp"
ISSUER = "Trung tâm Điều hành thông minh (IOC) tỉnh Đồng Tháp"
# Under which table (index in the section) the section's charts go.
CHART_AFTER_TABLE = {"hotline": 0, "environment": 1}
TONE = {"good": "#1a7f37", "bad": "#c62828", "neutral": "#444", "none": "#777"}

CSS = """
@font-face { font-family: '%(family)s'; src: url('%(regular)s'); font-weight: normal; }
@font-face { font-family: '%(family)s'; src: url('%(bold)s'); font-weight: bold; }
@page { size: A4; margin: 16mm 14mm 16mm 14mm;
  @bottom-center { content: "%(footer)s · Trang " counter(page) " / " counter(pages);
                   font-family: '%(family)s'; font-size: 8pt; color: #555; } }
@page :first { @bottom-center { content: none; } }
html { font-family: '%(family)s'; font-size: 11pt; color: #111; line-height: 1.38; }
h1 { font-size: 24pt; margin: 0 0 6mm 0; color: #0b3d6e; }
h2 { font-size: 14pt; color: #0b3d6e; border-bottom: 1.2pt solid #0b3d6e; padding-bottom: 1mm;
     margin: 7mm 0 3mm 0; break-after: avoid; }
h3 { font-size: 11.5pt; margin: 4mm 0 1.5mm 0; break-after: avoid; }
.cover { height: 240mm; display: flex; flex-direction: column; justify-content: center; }
.cover .province { font-size: 15pt; font-weight: bold; letter-spacing: 0.5pt; color: #333; }
.cover .period { font-size: 17pt; margin-bottom: 10mm; }
.cover .meta { font-size: 11pt; color: #333; }
.cover .band { height: 4mm; background: #0b3d6e; margin: 6mm 0; }
table { width: 100%%; border-collapse: collapse; margin: 1mm 0 2mm 0; break-inside: auto; }
th { text-align: left; background: #e8eef5; font-weight: bold; font-size: 10pt; padding: 1.4mm 1.6mm; }
td { border-bottom: 0.5pt solid #ccc; padding: 1.3mm 1.6mm; font-size: 10.5pt; vertical-align: top; }
tr { break-inside: avoid; }
td.num, th.num { text-align: right; white-space: nowrap; }
.swatch { display: inline-block; width: 3.2mm; height: 3.2mm; border: 0.5pt solid #555;
          margin-right: 1.5mm; vertical-align: -0.4mm; }
td.cat { white-space: nowrap; }
.note { font-size: 9pt; color: #555; margin: 0 0 2mm 0; }
.empty { font-style: italic; color: #333; margin: 1mm 0 3mm 0; }
.narrative { font-size: 12pt; background: #f4f7fb; border-left: 2mm solid #0b3d6e; padding: 3mm 4mm; }
.figure { break-inside: avoid; margin: 2mm 0 1mm 0; }
.figure svg { display: block; }
.figcaption { font-size: 10pt; font-weight: bold; color: #222; margin: 3mm 0 0 0; break-after: avoid; }
.section { break-before: auto; }
.pagebreak { break-before: page; }
ul.coverage li { margin-bottom: 1.5mm; }
"""


def _cell(text: str, numeric: bool) -> str:
    return f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _looks_numeric(text: str) -> bool:
    s = text
    for unit in (" giờ", " ngày", " %", "%", ".", ",", " ", "/"):
        s = s.replace(unit, "")
    return s == "—" or (bool(s) and s.isdigit())


def table_html(t: Table) -> str:
    if not t.rows:
        return f'<p class="empty">{escape(t.empty)}</p>'
    numeric = [i > 0 and all(_looks_numeric(r[i]) for r in t.rows) for i in range(len(t.columns))]
    head = "".join(f'<th class="num">{escape(c)}</th>' if numeric[i] else f"<th>{escape(c)}</th>"
                   for i, c in enumerate(t.columns))
    body = []
    for j, row in enumerate(t.rows):
        cells = []
        for i, v in enumerate(row):
            if i == 2 and t.swatches and t.swatches[j] and len(row) >= 3 and not numeric[i]:
                cells.append(f'<td class="cat"><span class="swatch" style="background:{t.swatches[j]}"></span>{escape(v)}</td>')
            elif i == len(row) - 1 and t.swatches and t.swatches[j] and len(row) == 3 and not numeric[i]:
                cells.append(f'<td class="cat"><span class="swatch" style="background:{t.swatches[j]}"></span>{escape(v)}</td>')
            else:
                cells.append(_cell(v, numeric[i]))
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


def _figure(fig_id: str, svg: str, caption: str) -> str:
    _k, w, h = FIGURES[fig_id]
    # the title above its chart, kept on the same page: read before the bars, not after
    return (f'<p class="figcaption">{escape(caption)}</p>'
            f'<div class="figure" id="{fig_id}" style="width:{w}mm;height:{h}mm">{svg}</div>')


def html(view: BriefingView, font: Font, *, blank_figures: tuple[str, ...] = ()) -> str:
    """The briefing's HTML. ``blank_figures``: ids drawn empty (for the checks' own tests)."""
    css = CSS % {"family": font.family, "regular": font.regular.as_uri(), "bold": font.bold.as_uri(),
                 "footer": f"{view.title} · {view.period_label}".replace('"', "'")}
    out = [f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{escape(view.title)} — '
           f'{escape(view.period_label)}</title><style>{css}</style></head><body>']
    out.append('<section class="cover" id="sec-cover">'
               f'<div class="province">{escape(PROVINCE.upper())}</div><div class="band"></div>'
               f'<h1>{escape(view.title)}</h1><div class="period">{escape(view.period_label)}</div>'
               f'<div class="meta">{escape(ISSUER)}<br>Lập lúc {escape(view.made_at)} (giờ Việt Nam)<br>'
               'Số liệu từ Tổng đài 1022, danh mục camera, trạm quan trắc môi trường và hệ thống '
               'thủ tục hành chính; cùng số liệu với các màn hình IOC cho cùng kỳ.</div></section>')
    out.append('<div class="pagebreak"></div>')
    out.append(_h2("summary") + f'<p class="narrative">{escape(view.narrative)}</p>')
    if view.missing:
        out.append('<p class="empty">Nguồn không có số liệu trong kỳ (hoặc chỉ toàn số 0): '
                   f'{escape(", ".join(view.missing))}.</p>')
    if view.not_fresh:
        out.append('<p class="empty">Nguồn chưa cập nhật lúc lập bản tin: '
                   f'{escape("; ".join(view.not_fresh))}. Xem mục Độ đầy đủ của số liệu.</p>')
    out.append(_h2("headline"))
    rows = "".join(
        f"<tr><td>{escape(h.label)}</td><td class='num'>{escape(h.current)}</td><td class='num'>{escape(h.previous)}"
        f"</td><td class='num' style='color:{TONE[h.tone]};font-weight:bold'>{escape(h.change)}</td></tr>"
        for h in view.headline)
    out.append('<table><thead><tr><th>Chỉ tiêu</th><th class="num">Kỳ này</th><th class="num">Kỳ trước</th>'
               f'<th class="num">Thay đổi</th></tr></thead><tbody>{rows}</tbody></table>'
               '<p class="note">▲ tăng, ▼ giảm, ■ không đổi; màu xanh: tốt lên, đỏ: xấu đi. Kỳ trước: '
               + ("ngày hôm trước." if view.period == "day" else "7 ngày liền trước.") + "</p>")
    for key in ("hotline", "cameras", "environment", "procedures", "alerts"):
        sec = view.sections[key]
        out.append(_h2(key))
        for line in sec.get("text") or []:
            out.append(f'<p class="empty">{escape(line)}</p>')
        charts = list(sec.get("charts") or [])
        tables = list(sec.get("tables") or [])
        if not tables:  # no figures for the section: its charts (if any) right under the sentence
            out += _charts(charts, blank_figures)
        for i, (subtitle, table) in enumerate(tables):
            if subtitle:
                out.append(f"<h3>{escape(subtitle)}</h3>")
            out.append(table_html(table))
            if i == CHART_AFTER_TABLE.get(key, 0):  # each chart under the table it illustrates
                out += _charts(charts, blank_figures)
    out.append(_h2("map", pagebreak=True))
    layer = view.map
    if "fig-map" in blank_figures:
        from dataclasses import replace

        layer = replace(layer, features=[])
    out.append(_figure("fig-map", map_svg(layer), f"{layer.title}. {layer.note}."))
    out.append(_h2("coverage"))
    out.append('<ul class="coverage">' + "".join(f"<li>{escape(c)}</li>" for c in view.coverage) + "</ul>")
    out.append('<p class="note">Bản tin không chứa họ tên, số điện thoại hay địa chỉ của người phản ánh.</p>')
    out.append("</body></html>")
    return "".join(out)


def _charts(charts: list, blank: tuple[str, ...]) -> list[str]:
    out = []
    for chart in charts:
        if not chart.has_data:  # nothing to draw: say so (the check expects no ink here)
            out.append(f'<p class="empty">{escape(chart.title)}: không có giá trị nào (hoặc chỉ có 0), '
                       'không vẽ biểu đồ.</p>')
            continue
        if chart.figure in blank:
            from dataclasses import replace

            chart = replace(chart, points=[(label, None) for label, _v in chart.points])
        out.append(_figure(chart.figure, bars_svg(chart, chart.figure), chart.title))
    return out


def _h2(key: str, *, pagebreak: bool = False) -> str:
    style = ' style="break-before: page"' if pagebreak else ""
    return f'<h2 id="sec-{key}"{style}>{escape(SECTION_TITLES[key])}</h2>'


def pdf(view: BriefingView, font: Font, *, blank_figures: tuple[str, ...] = ()) -> bytes:
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # the page needs only its embedded font files and data: URIs; an address that slipped into
    # the text (it is escaped, so it cannot) would never be fetched from the network
    fetcher = URLFetcher(allowed_protocols=("file", "data"), allow_redirects=False)
    return HTML(string=html(view, font, blank_figures=blank_figures), url_fetcher=fetcher).write_pdf()
