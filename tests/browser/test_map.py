"""The sector map /map end to end, in headless Chromium against the real stack with no tile
server: the 102 communes and every layer are drawn; a click on a commune opens its panel with
the figures `ioc kpi --json --period custom` gives for it; a filter change changes the list
and the CSV link holds exactly that list; the page's URL reopens the same view; a ticket click
shows that ticket; a language switch keeps the points; no console errors; screenshots at 1920×1080, 3840×2160 and 390×844 (tests/browser/screenshots/map-*.png).
"""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from .iocbrowser import (SIZES, choose_option, console_errors, kpi_period_json, map_state, page_metrics, screenshot,
                        vn_number, vn_percent, wait_dash_ready, wait_until)

pytestmark = pytest.mark.browser

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
COMMUNES = 102


def period() -> tuple[str, str]:
    """The last 30 local days, today included (the page's default range, written out)."""
    today = datetime.now(TZ).date()
    return (today - timedelta(days=29)).isoformat(), today.isoformat()


def open_map(driver, stack, query: str, until=None, timeout: float = 30.0) -> dict:
    driver.get(f"{stack.web_url}/map?{query}")
    wait_dash_ready(driver, timeout)
    return wait_until(lambda: (s := map_state(driver)) and s["paths"] == COMMUNES and (until is None or until(s)) and s,
                      timeout, 0.2, f"/map?{query} drawn")


def query_of(url: str) -> dict:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def points_on_map(driver) -> int | None:
    """How many requests the map's ticket layer shows: its clusters' counts plus single points
    (None while a count is abbreviated, "1k")."""
    counts = driver.execute_script("""
      return [...document.querySelectorAll('.sm-leaflet .sm-mk-tcluster')].map(e => e.innerText.trim())
        .concat([...document.querySelectorAll('.sm-leaflet .sm-mk-ticket')].map(() => '1'));""")
    return sum(int(c) for c in counts) if all(c.isdigit() for c in counts) else None


def server_points(stack, start: str, end: str, **filters) -> int:
    from ioc.views.mapdata import decode_ticket_points

    q = "&".join(f"{k}={v}" for k, v in {"start": start, "end": end, **filters}.items())
    return decode_ticket_points(stack.http.get(f"{stack.web_url}/api/map/tickets.bin?{q}", timeout=30).content)["n"]


def test_layers_drawn_and_a_commune_click_shows_its_kpis(stack, browser):
    start, end = period()
    t0 = time.monotonic()
    s = open_map(browser, stack, f"start={start}&end={end}&layers=communes,tickets,cameras,stations",
                 until=lambda s: s["tickets"] and s["cameras"] and s["stations"] and "km²" in (s["legend"] or ""))
    print(f"\n[map layers] {s['paths']} communes, {s['tickets']} request marks, {s['cameras']} camera marks, "
          f"{s['stations']} stations in {time.monotonic() - t0:.1f} s; control {s['overlays']}")
    assert [checked for _name, checked in s["overlays"]] == [True, False, True, True, True]
    assert "Phản ánh 1022 trên km²" in s["legend"] and "Chưa có dữ liệu" in s["legend"]

    # only the communes: a click lands on a commune, not on a marker above it
    open_map(browser, stack, f"start={start}&end={end}&layers=communes")
    paths = browser.find_elements(By.CSS_SELECTOR, ".sm-leaflet path.leaflet-interactive")
    code = None
    for i in (40, 10, 70, 25, 90):  # a concave outline's centre may fall outside it: try another
        ActionChains(browser).move_to_element(paths[i]).click().perform()
        try:
            code = wait_until(lambda: query_of(browser.current_url).get("commune"), 3, 0.1, "a commune selected")
            break
        except TimeoutError:
            continue
    assert code, "no click on a commune outline selected a commune"
    s = wait_until(lambda: (s := map_state(browser)) and s["kpis"].get("hotline_received") and s["list_total"] and s,
                   20, 0.2, "the commune's panel")
    kpi = kpi_period_json(stack, start, end)
    h, p = kpi["hotline"], kpi["procedures"]
    mine = (h["by"]["commune"].get(code) or {})
    unit = (p.get("commune") or {}).get(code) or {}
    on_time = ((unit.get("indicators") or {}).get("2.1") or {}).get("value")
    prov_on_time = ((p["province"].get("indicators") or {}).get("2.1") or {}).get("value")
    expected = {
        "hotline_received": [vn_number(mine.get("received", 0)), vn_number(h["figures"]["received"])],
        "dossiers_received": [vn_number((unit.get("counts") or {}).get("received", 0)),
                              vn_number(p["province"]["counts"]["received"])],
        "qd766_on_time": [vn_percent(on_time), vn_percent(prov_on_time)],
    }
    shown = {k: s["kpis"][k][1:3] for k in expected}
    print(f"[map panel] {s['panel_name']} ({code}): shown {shown}, kpi {expected}")
    assert shown == expected, f"the panel of {code} differs from `ioc kpi --period custom`"
    assert s["panel_name"] and s["panel_name"] in s["commune"]


def test_a_filter_changes_the_list_its_export_and_the_link_reopens_the_view(stack, browser):
    start, end = period()
    kpi = kpi_period_json(stack, start, end)
    communes = kpi["hotline"]["by"]["commune"]
    # a commune with answered and unanswered requests: choosing "answered" must change its list
    mixed = [c for c, f in communes.items() if f.get("answered") and f.get("in_progress")]
    code = max(mixed or communes, key=lambda c: communes[c]["received"])
    s0 = open_map(browser, stack, f"start={start}&end={end}&commune={code}&list=tickets&layers=communes,tickets",
                  until=lambda s: s["rows"] and s["csv"])
    choose_option(browser, "map-status", "closed")
    s1 = wait_until(lambda: (s := map_state(browser)) and s["status"] == "Đã trả lời" and s["rows"]
                    and s["list_total"] != s0["list_total"] and s["csv"] and "status=closed" in s["csv"] and s,
                    15, 0.2, "the list after choosing 'Đã trả lời'")
    print(f"\n[map list] {code}: {s0['list_total']} → {s1['list_total']}")
    assert mixed, "the stack has no commune with both answered and open requests"
    assert {r[2] for r in s1["rows"]} == {"Đã trả lời"}, s1["rows"]
    # the map keeps, of the points it has, exactly the tickets the server filters (the browser's
    # own filter, assets/sector_map.js, against the read model's SQL)
    want = server_points(stack, start, end, status="closed")
    got = wait_until(lambda: (n := points_on_map(browser)) == want and n, 15, 0.2,
                     f"the map showing the {want} answered requests")
    print(f"[map points] answered: {got} on the map, {want} from tickets.bin?status=closed "
          f"(all: {server_points(stack, start, end)})")

    res = stack.http.get(s1["csv"], timeout=30)
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(res.content.decode("utf-8-sig"))))
    head, body = rows[0], rows[1:]
    total = int(s1["list_total"].split()[-3].replace(".", ""))  # "1–12 trong 37 bản ghi"
    assert head == s1["list_heads"]
    assert len(body) == total, f"the CSV holds {len(body)} rows, the list {total}"
    assert body[:len(s1["rows"])] == s1["rows"], "the CSV does not start with the page on screen"
    assert {r[2] for r in body} == {"Đã trả lời"}
    xlsx = stack.http.get(s1["xlsx"], timeout=30)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    # the address bar holds the view: opening it again shows the same
    q = query_of(s1["url"])
    assert q["status"] == "closed" and q["commune"] == code and q["start"] == start and "z" in q, q
    s2 = open_map(browser, stack, urlsplit(s1["url"]).query, until=lambda s: s["rows"] and s["list_total"])
    same = ("status", "commune", "sector", "metric", "dates", "panel_name", "list_total", "rows", "overlays", "csv")
    assert {k: s2[k] for k in same} == {k: s1[k] for k in same}
    zoom = browser.execute_script("return document.querySelector('.sm-leaflet') !== null")
    assert zoom and query_of(s2["url"])["z"] == q["z"] and query_of(s2["url"])["lat"] == q["lat"]

    # a later start: the page keeps the points of the days left from the year it holds (each
    # point's local day, assets/sector_map.js) — exactly the server's, and nothing downloaded
    later = (datetime.fromisoformat(end) - timedelta(days=9)).date()
    t0 = browser.execute_script("return performance.now()")
    field = browser.find_element(By.ID, "map-dates")
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(later.strftime("%d/%m/%Y"), Keys.ENTER)
    want = server_points(stack, later.isoformat(), end, status="closed")
    got = wait_until(lambda: (n := points_on_map(browser)) == want and n, 15, 0.2,
                     f"the map showing the {want} answered requests from {later:%d/%m/%Y}")
    asked = browser.execute_script("""return performance.getEntriesByType('resource')
      .filter(e => e.startTime >= arguments[0] && e.name.includes('tickets.bin')).map(e => e.name)""", t0)
    print(f"[map points] answered from {later:%d/%m/%Y}: {got} on the map, {want} from the server; downloads {asked}")
    assert asked == [] and query_of(browser.current_url).get("start") == later.isoformat()

    # an earlier end: the page judges the points it holds at the new end itself (each point's
    # hotline steps, assets/sector_map.js ioc.ticketState) — exactly the server's answered requests
    # of that range (the SQL rule at that end), and nothing downloaded
    earlier = (datetime.fromisoformat(end) - timedelta(days=1)).date()
    t1 = browser.execute_script("return performance.now()")
    field = browser.find_element(By.ID, "map-dates-end-date")
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(earlier.strftime("%d/%m/%Y"), Keys.ENTER)
    want = server_points(stack, later.isoformat(), earlier.isoformat(), status="closed")
    got = wait_until(lambda: (n := points_on_map(browser)) == want and query_of(browser.current_url).get("end")
                     == earlier.isoformat() and n, 15, 0.2,
                     f"the map showing the {want} requests answered by {earlier:%d/%m/%Y}")
    asked = browser.execute_script("""return performance.getEntriesByType('resource')
      .filter(e => e.startTime >= arguments[0] && e.name.includes('tickets.bin')).map(e => e.name)""", t1)
    print(f"[map points] answered {later:%d/%m/%Y}–{earlier:%d/%m/%Y}: {got} on the map, {want} from the server; "
          f"downloads {asked}")
    assert asked == []


def test_a_ticket_click_names_the_ticket_and_a_language_switch_keeps_the_points(stack, browser):
    """A ticket point carries only its row (tickets.bin); the click shows that ticket — the
    panel, the link and the marker's own tooltip agree — and never its reporter. A new language
    mounts the layers again: the points come back without a reload."""
    from ioc.views.mapdata import decode_ticket_points

    start, end = period()
    pts = decode_ticket_points(stack.http.get(f"{stack.web_url}/api/map/tickets.bin?start={start}&end={end}",
                                         timeout=30).content)
    assert pts["n"] > 0
    lat, lon = pts["lat"][0], pts["lon"][0]
    open_map(browser, stack, f"start={start}&end={end}&layers=communes,tickets&z=18&lat={lat:.4f}&lon={lon:.4f}",
             until=lambda s: s["tickets"])
    marker = min(browser.find_elements(By.CSS_SELECTOR, ".sm-leaflet .sm-mk-ticket"),
                 key=lambda e: abs(e.rect["x"] + e.rect["width"] / 2 - 960 * 0.66) + abs(e.rect["y"] - 540))
    ActionChains(browser).move_to_element(marker).perform()
    tip = wait_until(lambda: (e := browser.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip-pane .leaflet-tooltip"))
                     and e[-1].text.strip(), 5, 0.1, "the marker's tooltip")
    ActionChains(browser).move_to_element(marker).click().perform()
    sel = wait_until(lambda: query_of(browser.current_url).get("sel", "").startswith("ticket:")
                     and query_of(browser.current_url)["sel"], 10, 0.1, "a ticket selected")
    ident = sel.split(":", 1)[1]
    s = wait_until(lambda: (s := map_state(browser)) and s["object"] and ident in s["object"] and s, 15, 0.2,
                   "the ticket's panel")
    detail = stack.http.get(f"{stack.web_url}/api/map/ticket/{ident}", timeout=30).json()
    print(f"\n[map ticket] tooltip {tip!r} → {sel}: {detail['category']} / {detail['status_label']}")
    assert tip == f"{detail['category']} — {detail['status_label']}", "the panel shows another ticket than the marker"
    assert detail["category"] in s["object"] and detail["status_label"] in s["object"]
    assert not any(k in detail for k in ("reporter_name", "reporter_phone", "address", "description"))

    # a layer switched on by hand (cameras) stays on in the other language
    browser.find_element(By.XPATH, "//div[contains(@class,'leaflet-control-layers-overlays')]"
                                   "//label[contains(., 'Camera an ninh')]//input").click()
    # the link then names every layer on (dash-leaflet alone reported only the one switched)
    wait_until(lambda: map_state(browser)["overlays"][3][1] and "layers=communes,tickets,cameras" in browser.current_url,
               20, 0.2, "the cameras switched on, the link naming every layer on")
    before = map_state(browser)["tickets"]
    browser.find_element(By.ID, "map-lang").click()
    s2 = wait_until(lambda: (s := map_state(browser)) and s["overlays"] and s["overlays"][2][0] == "1022 requests"
                    and s["tickets"] and s, 20, 0.2, "the layers in English with their points")
    print(f"[map language] {before} → {s2['tickets']} request marks; control {s2['overlays']}")
    assert s2["tickets"] == before and [c for _n, c in s2["overlays"]] == [True, False, True, True, False]
    browser.find_element(By.ID, "map-lang").click()  # back to Vietnamese for the next tests (a stored choice)
    wait_until(lambda: (s := map_state(browser)) and s["overlays"] and s["overlays"][2][0] == "Phản ánh 1022", 20, 0.2,
               "the layers in Vietnamese again")


@pytest.mark.parametrize("browser", SIZES, ids=[s.name for s in SIZES], indirect=True)
def test_map_page_clean_at_every_size(stack, browser):
    size = browser.ioc_size
    start, end = period()
    stations = stack.http.get(f"{stack.web_url}/api/map/stations.json", timeout=30).json()["features"]
    air = next(f["properties"]["id"] for f in stations if f["properties"]["kind"] == "air")
    kpi = kpi_period_json(stack, start, end) if size.name == "1920x1080" else None
    code = (max(kpi["hotline"]["by"]["commune"].items(), key=lambda kv: kv[1]["received"])[0] if kpi
            else "29884")
    console_errors(browser)
    s = open_map(browser, stack, f"start={start}&end={end}&sector=environment&commune={code}&sel=station:{air}",
                 until=lambda s: s["stations"] and s["charts"] and s["kpis"])
    m = page_metrics(browser)
    shot = screenshot(browser, f"map-{size.name}")
    errors = console_errors(browser)
    print(f"\n[map {size.name}] {s['stations']} stations, {s['charts']} charts; document {m['scrollWidth']}x"
          f"{m['scrollHeight']}; screenshot {shot}")
    assert not errors, "console errors:\n" + "\n".join(e["message"] for e in errors)
    assert m["scrollWidth"] <= m["clientWidth"], "the page scrolls sideways"
    assert "Môi trường" in s["sector"] and s["panel_name"]
    assert "Trạm không khí" in s["object"] and "VN_AQI" in s["object"]
