/* Sector map (/map): the functions its layers reference from Python with
   dash_extensions.javascript.Namespace("ioc", "sectorMap").

   Dash loads every script in assets/ on every page, so this file only defines functions: no
   listeners, no timers, nothing runs at load. Every colour drawn here also carries a word or a
   symbol (a marker's letter, a tooltip, the legend beside the map). What a marker says comes
   from the layer's hideout, written in Python (layouts/map.py), so the words follow the language. */
window.ioc = Object.assign({}, window.ioc, {
  sectorMap: (function () {
    "use strict";

    function hideoutOf(context) {
      return (context && (context.hideout || (context.props && context.props.hideout))) || {};
    }

    function esc(text) {
      return String(text === undefined || text === null ? "" : text)
        .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    }

    // black or white text, whichever reads better on the background colour
    function ink(hex) {
      const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(hex || "");
      if (!m) { return "#fff"; }
      const [r, g, b] = [m[1], m[2], m[3]].map(function (x) { return parseInt(x, 16) / 255; });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.55 ? "#0b111a" : "#fff";
    }

    // one formatter per language: toLocaleString builds a new one on every call (a redraw
    // formats hundreds of cluster counts)
    const formats = {};
    function number(n, lang) {
      const locale = lang === "en" ? "en-US" : "vi-VN";
      formats[locale] = formats[locale] || new Intl.NumberFormat(locale);
      return formats[locale].format(Number(n));
    }

    function badge(latlng, cls, colour, text, title, size) {
      const html = '<span style="background:' + esc(colour) + ";color:" + ink(colour) + '">' + esc(text) + "</span>";
      const marker = L.marker(latlng, {
        icon: L.divIcon({className: "sm-mk " + cls, html: html, iconSize: size ? [size, size] : null}),
        keyboard: false, riseOnHover: true,
      });
      if (title) { marker.bindTooltip(title, {direction: "top", offset: [0, -8]}); }
      return marker;
    }

    return {
      // communes coloured by class: hideout = {classes: {code: i}, colours: [...], none, selected}
      communeStyle: function (feature, context) {
        const h = hideoutOf(context);
        const code = feature.properties.code;
        const cls = (h.classes || {})[code];
        const known = cls !== undefined && cls !== null && (h.colours || [])[cls] !== undefined;
        const selected = h.selected && h.selected === code;
        if (h.scope && h.scope.indexOf(code) < 0) {
          // outside the user's scope (a user limited to communes): an outline, no value
          return {fillOpacity: 0, color: "#5b6675", weight: 1, dashArray: null, opacity: 0.9};
        }
        return {
          fillColor: known ? h.colours[cls] : (h.none || "#3a4150"),
          fillOpacity: known ? 0.78 : 0.35,
          color: selected ? "#ffffff" : "#0b0f16",
          weight: selected ? 3.5 : 1,
          // communes without a figure are drawn with a dashed outline: "no data" without colour
          dashArray: known ? null : "4 3",
          opacity: 1,
        };
      },
      communeHover: function () {
        return {weight: 3, color: "#f1f5f9"};
      },
      // hover: the commune's name and its value (or the words for "no data")
      communeEach: function (feature, layer, context) {
        layer.bindTooltip(function () {
          const h = hideoutOf(context);
          const code = feature.properties.code;
          const v = (h.values || {})[code];
          const outside = h.scope && h.scope.indexOf(code) < 0;
          const value = outside ? (h.outside_text || "—") : (v === undefined || v === null ? (h.none_text || "—") : v);
          return "<b>" + esc(feature.properties.name) + "</b><br>" + esc(h.title || "") + ": <b>" + esc(value) +
            "</b>" + (h.unit && v !== undefined && v !== null ? " " + esc(h.unit) : "");
        }, {sticky: true, className: "sm-tip"});
      },

      // density grid: hideout = {colours: [...], unit}; cells carry count and cls
      densityStyle: function (feature, context) {
        const h = hideoutOf(context);
        const c = (h.colours || [])[feature.properties.cls];
        return {fillColor: c || "#3a4150", fillOpacity: c ? 0.7 : 0.2, color: "#0b0f16", weight: 0.3, opacity: 0.6};
      },
      densityEach: function (feature, layer, context) {
        const h = hideoutOf(context);
        layer.bindTooltip(esc(number(feature.properties.count, h.lang)) + " " + esc(h.unit || ""),
          {sticky: true, className: "sm-tip"});
      },

      // one 1022 request: hideout.marks = {status: [colour, symbol, words]}
      ticketPoint: function (feature, latlng, context) {
        const h = hideoutOf(context);
        const p = feature.properties;
        const mark = (h.marks || {})[p.st] || ["#9fb0c0", "?", p.st];
        return badge(latlng, "sm-mk-ticket", mark[0], mark[1], esc((h.cats || {})[p.cat] || p.cat || "") + " — " + esc(mark[2]), null);
      },
      // a cluster of requests: its size in numbers, a click zooms in (zoomToBoundsOnClick)
      ticketCluster: function (feature, latlng, index, context) {
        const h = hideoutOf(context);
        const n = feature.properties.point_count;
        const size = n < 100 ? "s" : (n < 1000 ? "m" : "l");
        return badge(latlng, "sm-mk-cluster sm-mk-tcluster sm-size-" + size, "#f1f5f9",
          feature.properties.point_count_abbreviated, esc(number(n, h.lang)) + " " + esc(h.cluster_words || ""), null);
      },

      // one camera: colour and symbol by status; hideout.marks = {status: [colour, symbol, words]}
      cameraPoint: function (feature, latlng, context) {
        const h = hideoutOf(context);
        const p = feature.properties;
        const mark = (h.marks || {})[p.st] || ["#9fb0c0", "?", p.st];
        return badge(latlng, "sm-mk-camera sm-st-" + esc(p.st), mark[0], mark[1], esc(mark[2]), null);
      },
      // a cluster of cameras: how many, and how many of them are offline (red, with ✖)
      cameraCluster: function (feature, latlng, index, context) {
        const h = hideoutOf(context);
        const n = feature.properties.point_count;
        let off = 0;
        try {
          const leaves = index.getLeaves(feature.properties.cluster_id, Infinity);
          for (let i = 0; i < leaves.length; i++) { if (leaves[i].properties.st === "offline") { off++; } }
        } catch (e) { off = 0; }
        // the count on a camera colour; offline ones in a red corner badge with ✖
        const off_html = off ? '<b class="sm-off">' + esc(number(off, h.lang)) + "✖</b>" : "";
        const title = esc(number(n, h.lang)) + " " + esc(h.cluster_words || "") +
          (off ? " — " + esc(number(off, h.lang)) + " " + esc(h.offline_words || "") : "");
        const m = L.marker(latlng, {
          icon: L.divIcon({className: "sm-mk sm-mk-cluster sm-mk-camcluster", iconSize: null,
            html: "<span>" + esc(feature.properties.point_count_abbreviated) + off_html + "</span>"}),
          keyboard: false,
        });
        m.bindTooltip(title, {direction: "top", offset: [0, -8]});
        return m;
      },

      // one station: its figure (or "–") in its official category colour, a shape per kind
      // the marker says the number (VN_AQI, VN_WQI, salinity ‰, water level m, insects);
      // the tooltip the whole reading and its state in words
      stationPoint: function (feature, latlng, context) {
        const h = hideoutOf(context);
        const p = feature.properties;
        const colour = p.colour || "#6b7785";
        let text = "–";
        if (typeof p.value === "number" && isFinite(p.value)) {
          const digits = (p.index === "aqi" || p.index === "wqi" || p.index === "insects") ? 0 : 2;
          text = Number(p.value).toLocaleString(h.lang === "en" ? "en-US" : "vi-VN",
            {maximumFractionDigits: digits, minimumFractionDigits: 0});
        }
        const title = "<b>" + esc(p.name) + "</b><br>" + esc(p.label || "") + (p.label ? " — " : "") +
          esc(p.state_text || "") + (p.detail ? "<br>" + esc(p.detail) : "");
        return badge(latlng, "sm-mk-station sm-kind-" + esc(p.kind), colour, text, title, null);
      },
    };
  })(),
});

/* The ticket points as the server writes them (ioc/views/map_layers.py, encode_ticket_points),
   little-endian: uint32 H | H bytes of JSON {n, scale, cats, day0, days} | zeros to a multiple of 4 |
   int32 lon×scale [n] | int32 lat×scale [n] | uint32 row-id steps [n] | uint16 category [n] |
   uint16 local request day, days after day0 [n] | uint16 answered from, uint16 overdue from: days after
   the request day, 65535 never [n each]. Typed arrays read the platform's byte order: little-endian in
   every browser this page runs in (x86, ARM). Returns every point as a GeoJSON Feature, properties
   {id, cat, day, ans, due} (ans, due: days after day0; Infinity: never). */
window.ioc = Object.assign({}, window.ioc, {
  ticketPoints: function (buffer) {
    "use strict";
    const h = new DataView(buffer).getUint32(0, true);
    const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, h)));
    const n = head.n;
    let at = 4 + h + ((4 - (4 + h) % 4) % 4);
    const x = new Int32Array(buffer, at, n); at += 4 * n;
    const y = new Int32Array(buffer, at, n); at += 4 * n;
    const step = new Uint32Array(buffer, at, n); at += 4 * n;
    const cat = new Uint16Array(buffer, at, n); at += 2 * n;
    const day = new Uint16Array(buffer, at, n); at += 2 * n;
    const ans = new Uint16Array(buffer, at, n); at += 2 * n;
    const due = new Uint16Array(buffer, at, n);
    const features = new Array(n);
    let id = 0;
    for (let i = 0; i < n; i++) {
      id += step[i];
      // properties.id: dash-leaflet keys its markers by it (and numbers features without one)
      features[i] = {type: "Feature", geometry: {type: "Point", coordinates: [x[i] / head.scale, y[i] / head.scale]},
                     properties: {id: id, cat: head.cats[cat[i]], day: day[i],
                                  ans: ans[i] === 65535 ? Infinity : day[i] + ans[i],
                                  due: due[i] === 65535 ? Infinity : day[i] + due[i]}};
    }
    return features;
  },

  // a calendar date (YYYY-MM-DD…) as a day number: days since 01/01/1970, no time zone involved
  dayNumber: function (iso) {
    const s = String(iso || "");
    return Date.UTC(Number(s.slice(0, 4)), Number(s.slice(5, 7)) - 1, Number(s.slice(8, 10))) / 86400000;
  },

  // A point's state when the range ends on day k of its window (days after day0). Mirrors
  // ioc/kpi/hotline.py flags_at_step, the hotline rule (ticket_flags) at the steps the server
  // sends (flag_steps): answered from day `ans`, overdue from day `due` while not answered.
  // tests/views/test_mapdata.py holds it to the SQL rule (map_filters.status_sql) for random
  // tickets and ends.
  ticketState: function (p, k) {
    return k >= p.ans ? "closed" : (k >= p.due ? "overdue" : "open");
  },

  // The points the ticket layer shows: categories and states (null: every one), request days
  // from…to (counted from the window's first day, both inclusive), each with its state at the end
  // `to` (properties {id, cat, st}). tests/views/test_mapdata.py runs this function against the
  // server's SQL filters.
  keptTickets: function (features, cats, states, from, to) {
    const catSet = cats ? new Set(cats) : null;
    const stateSet = states ? new Set(states) : null;
    const stateOf = window.ioc.ticketState;
    const out = [];
    for (let i = 0; i < features.length; i++) {
      const f = features[i], p = f.properties;
      if (p.day < from || p.day > to || (catSet && !catSet.has(p.cat))) { continue; }
      const st = stateOf(p, to);
      if (stateSet && !stateSet.has(st)) { continue; }
      out.push({type: "Feature", geometry: f.geometry, properties: {id: p.id, cat: p.cat, st: st}});
    }
    return out;
  },
});

/* The sector map's clientside callbacks (layouts/map.py: ClientsideFunction("ioc_map", …)). */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  ioc_map: {
    // the points of the last window asked for ({key: url and page, features: a promise}); what the
    // layer shows; the range's days in that window ({url, from, to})
    _points: null,
    _shows: null,
    _days: null,

    // The ticket layer's data: the points of the window (win = {url, first, last}: the year up to
    // the end it was asked for — layouts/map.py ticket_window), those of the chosen start and end
    // days, each judged at the end (ioc.ticketState), of the status and categories chosen —
    // layouts/map.py TICKET_RULES: the sector's categories (null: every one) narrowed to the chosen
    // ones, as MapFilters.service_codes does, and the status filter's states. A range inside the
    // window, a status, category or sector change only filters and re-clusters; a range outside it
    // waits for its window. Nothing is asked while the layer is off, or while the database did not
    // answer for the choropleth (the legend says so).
    tickets: function (win, start, end, status, services, sector, overlaysAll, _tick, built, rules, choro, layerSet,
                       keys) {
      const nu = window.dash_clientside.no_update;
      const self = window.dash_clientside.ioc_map;
      const names = overlaysAll && overlaysAll[0];
      const on = names ? names.some(function (n) { return keys && keys[n] === "tickets"; })
        : ((layerSet && layerSet.layers) || []).indexOf("tickets") >= 0;
      if (!win || !win.url || !rules || !on) { return nu; }
      // the range's days in the window; a range the window does not hold (its window is on its
      // way; or refused: the filters say why) keeps the days shown before
      const s = String(start || "").slice(0, 10), e = String(end || "").slice(0, 10);
      if (s >= win.first && e <= win.last && s <= e) {
        const d0 = window.ioc.dayNumber(win.first);
        self._days = {url: win.url, from: window.ioc.dayNumber(s) - d0, to: window.ioc.dayNumber(e) - d0};
      }
      if (!self._days || self._days.url !== win.url) { return nu; }
      const from = self._days.from, to = self._days.to;
      const sectorCats = rules.sectors[sector || "all"];
      const chosen = services && services.length ? services : null;
      const cats = chosen === null ? (sectorCats || null)
        : (sectorCats ? chosen.filter(function (c) { return sectorCats.indexOf(c) >= 0; }) : chosen);
      const states = rules.states[status || "all"] || null;
      const down = !!(choro && choro.layers_down);
      // the minute's tick, a layer control reporting what it shows or a range before its window:
      // nothing new to draw (a re-drawn layer closes its tooltips and re-clusters every point);
      // a re-mounted map (built: gen, page) starts empty
      const shows = JSON.stringify([win.url, from, to, cats, states, down, built]);
      if (shows === self._shows) { return nu; }
      self._shows = shows;
      if (down) { return {type: "FeatureCollection", features: []}; }
      const keep = function (features) {
        const kept = window.ioc.keptTickets(features, cats, states, from, to);
        // when the layer was handed its points: bench/map.py splits a change's time at this mark
        if (window.performance && performance.mark) { performance.mark("ioc_map.tickets"); }
        return {type: "FeatureCollection", features: kept};
      };
      // a page opened again (built.page) downloads again: the points may have changed since
      const key = win.url + " " + (built && built.page);
      if (!self._points || self._points.key !== key) {
        const points = fetch(win.url, {credentials: "same-origin"})
          .then(function (res) { return res.ok ? res.arrayBuffer() : Promise.reject(new Error("HTTP " + res.status)); })
          .then(window.ioc.ticketPoints);
        self._points = {key: key, features: points};  // a change while it downloads waits for the same download
        points.catch(function () { if (self._points && self._points.key === key) { self._points = null; } });
      }
      return self._points.features.then(keep)
        .catch(function () {
          self._shows = null;  // asked again at the next change or tick
          return {type: "FeatureCollection", features: []};
        });
    },

    // the filters as a query string (the selected commune is not a filter of the map's layers),
    // with the user's scope parameters (layouts/map.py map-layer-scope: sectors, communes)
    _layerQuery: function (filters, scope) {
      const parts = [];
      const all = Object.assign({}, filters || {}, scope || {});
      Object.keys(all).sort().forEach(function (k) {
        const v = all[k];
        if (k !== "commune" && v !== null && v !== undefined && v !== "") {
          parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v).replace(/%2C/g, ","));
        }
      });
      return parts.join("&");
    },

    // the density grid, fetched only while its layer is on; its colours and legend come with it
    density: function (overlaysAll, built, filters, lang, keys, previous, hideout, data, scope) {
      const nu = window.dash_clientside.no_update;
      const names = (overlaysAll && overlaysAll[0]) || [];
      const on = names.some(function (n) { return keys && keys[n] === "density"; });
      if (!on || !built) { return [nu, nu, nu]; }
      const q = window.dash_clientside.ioc_map._layerQuery(filters, scope);
      const url = "/api/map/density.json?" + (q ? q + "&" : "") + "lang=" + encodeURIComponent(lang || "vi");
      // a re-drawn map (new filters, a selection) hands the layer over empty: fetch again then
      const shown = data && data.features;
      if (shown && previous && previous.url === url && previous.gen === built.gen) { return [nu, nu, nu]; }
      return fetch(url, {credentials: "same-origin"})
        .then(function (res) { return res.ok ? res.json() : Promise.reject(new Error("HTTP " + res.status)); })
        .then(function (fc) {
          return [
            {type: "FeatureCollection", features: fc.features || []},
            Object.assign({}, hideout, {colours: fc.colours || []}),
            {url: url, gen: built.gen, meta: {legend: fc.legend || [], title: fc.title, period: fc.period,
                                              count: (fc.features || []).length}},
          ];
        })
        .catch(function () { return [nu, nu, {url: url, gen: built.gen, meta: {error: true}}]; });
    },

    // dash-leaflet 1.1.3's layer control keeps the handlers of its first render: after its own
    // first report of the layers on, a layer switched by hand made it report that layer alone
    // (or throw, switched off). Its first report is written back once, as a new list: the
    // control renders again and its handlers see the layers on.
    _reported: {},
    overlays: function (overlaysAll, built) {
      const nu = window.dash_clientside.no_update;
      const self = window.dash_clientside.ioc_map;
      const ids = ((window.dash_clientside.callback_context.inputs_list || [])[0] || []).map(function (x) {
        return JSON.stringify(x.id) + " " + (built && built.page);
      });
      const fresh = ids.filter(function (id, i) { return overlaysAll[i] && !self._reported[id]; });
      if (!fresh.length) { return nu; }
      fresh.forEach(function (id) { self._reported[id] = true; });
      return overlaysAll.map(function (o) { return o ? o.slice() : o; });
    },

    // the view in the address bar, without a navigation: a copied link opens the same view
    url: function (filters, metric, overlaysAll, zoom, center, sel, kind, q, range, keys) {
      if (!/\/map\/?$/.test(window.location.pathname)) { return window.dash_clientside.no_update; }
      const p = [];
      const add = function (k, v) { p.push(encodeURIComponent(k) + "=" + encodeURIComponent(v).replace(/%2C/g, ",")); };
      Object.keys(filters || {}).sort().forEach(function (k) {
        if (filters[k] !== null && filters[k] !== undefined && filters[k] !== "") { add(k, filters[k]); }
      });
      if (metric) { add("metric", metric); }
      if (overlaysAll && overlaysAll.length) {
        const layers = (overlaysAll[0] || []).map(function (n) { return keys[n]; }).filter(Boolean);
        add("layers", layers.join(","));
      } else {
        const before = new URLSearchParams(window.location.search).get("layers");
        if (before !== null) { add("layers", before); }
      }
      if (kind) { add("list", kind); }
      if (q) { add("q", q); }
      if (sel && sel.kind && sel.id) { p.push("sel=" + sel.kind + ":" + encodeURIComponent(sel.id)); }
      if (sel && sel.kind === "station" && range && range !== "24h") { add("range", range); }
      let lat = null, lon = null;
      if (Array.isArray(center)) { lat = center[0]; lon = center[1]; }
      else if (center && typeof center === "object") { lat = center.lat; lon = center.lng !== undefined ? center.lng : center.lon; }
      if (typeof zoom === "number" && typeof lat === "number" && typeof lon === "number") {
        add("z", String(Math.round(zoom * 100) / 100));
        add("lat", lat.toFixed(4));
        add("lon", lon.toFixed(4));
      }
      const qs = p.join("&");
      const next = window.location.pathname + (qs ? "?" + qs : "") + window.location.hash;
      if (next !== window.location.pathname + window.location.search + window.location.hash) {
        window.history.replaceState(window.history.state, "", next);
      }
      return qs;
    },
  },
});
