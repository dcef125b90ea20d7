/* The wall's clientside callbacks (layouts/wall.py): the live poll, the focus-panel rotation and
   the clock. Loaded on every page (Dash loads all of assets/), used only by /wall.

   The poll (docs/views.md § Live updates): once a second one GET /api/views/wall carrying the
   focus panel on screen, the language and the tag of every panel shown; the answer holds the
   content of the panels whose tag moved, written straight into them with set_props. Never more
   than one request in flight: a tick that finds one waiting does nothing (Dash fires the
   interval regardless, and drops the result of a clientside callback re-fired while it runs,
   so the answer is applied here, not returned). */
(function () {
  const PANELS = ["tiles", "alerts", "map", "focus", "badges"];
  const TIMEOUT_MS = 4000;            // a poll not answered by then counts as failed
  const FAILS_BEFORE_BANNER = 3;      // ~3 s without the server before saying so
  const NIGHTLY_RELOAD_HOUR = 3;      // local hour of the daily reload (memory stays flat)
  const MIN_HOURS_BEFORE_RELOAD = 12;
  const TZ = "Asia/Ho_Chi_Minh";
  let inFlight = false;

  function hhmm(ms) {
    return new Intl.DateTimeFormat("vi-VN", {timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false})
      .format(new Date(ms));
  }

  function localHour() {
    return Number(new Intl.DateTimeFormat("en-GB", {timeZone: TZ, hour: "2-digit", hour12: false})
      .format(new Date()));
  }

  function url(state, lang, focus) {
    // after a failed poll the next request asks for everything (have is empty)
    const have = state.full ? [] : PANELS.filter((p) => state.have[p]).map((p) => p + ":" + state.have[p]);
    const q = new URLSearchParams({lang: lang || "", focus: focus || "", have: have.join(",")});
    return "/api/views/wall?" + q.toString();
  }

  // the server refused this wall (docs/security.md § Wall displays): a revoked device, or a
  // person's session that ended. Not a server outage: no "server down" banner for these.
  class Refused extends Error {
    constructor(status, body) { super("HTTP " + status); this.status = status; this.body = body || {}; }
  }

  async function fetchJson(href) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
    try {
      const res = await fetch(href, {cache: "no-store", signal: ctrl.signal, credentials: "same-origin"});
      if (res.status === 401 || res.status === 403) {
        let body = {};
        try { body = await res.json(); } catch (e) { /* not JSON: a refusal all the same */ }
        throw new Refused(res.status, body);
      }
      if (!res.ok) throw new Error("HTTP " + res.status);
      return await res.json();
    } finally {
      clearTimeout(timer);
    }
  }

  // "Thiết bị đã bị thu hồi" over the whole wall: the figures must not stay on screen as if live.
  // The poll goes on: a device enrolled again (a new link opened on it) comes back by itself.
  function showRevoked(body) {
    let el = document.getElementById("wall-revoked");
    if (!el) {
      el = document.createElement("div");
      el.id = "wall-revoked";
      el.className = "wall-revoked";
      el.setAttribute("role", "alert");
      el.appendChild(document.createElement("h1"));
      el.appendChild(document.createElement("p"));
      document.body.appendChild(el);
    }
    el.firstChild.textContent = (body.error || "Thiết bị đã bị thu hồi");
    el.lastChild.textContent = body.note || "";
  }

  function hideRevoked() {
    const el = document.getElementById("wall-revoked");
    if (el) el.remove();
  }

  // each panel's content goes where it belongs (layouts/wall.py panel_content). React renders
  // the updates of one task together: the figures first, the map and the focus panel (many
  // markers, the slow part) in the next task, so the figures do not wait for the markers.
  function apply(panels) {
    const set = window.dash_clientside.set_props;
    if (panels.tiles) set("wall-tiles", {children: panels.tiles});
    if (panels.badges) set("wall-badges", {children: panels.badges});
    if (panels.alerts) set("wall-ticker", {children: panels.alerts});
    const m = panels.map;
    if (!m && !panels.focus) return;
    setTimeout(function () {
      if (panels.focus) set("wall-focus", {children: panels.focus});
      if (m) {
        // url and hideout together, so the outlines are never drawn with an empty colouring
        set("wall-communes", {url: m.url, hideout: m.hideout});
        set("wall-markers", {children: m.markers});
        set("wall-legend", {children: m.legend});
        set("wall-map-title", {children: m.title});
      }
    }, 0);
  }

  function banner(state, texts) {
    const show = state.failures >= FAILS_BEFORE_BANNER;
    const text = show ? (texts.server_down || "…").replace("{since}", hhmm(state.downSince)) : "";
    if (text !== state.bannerText) {
      window.dash_clientside.set_props("wall-banner", {children: text, className: show ? "wall-banner show" : "wall-banner"});
    }
    return text;
  }

  async function pollOnce(state, texts, focus) {
    let body;
    try {
      body = await fetchJson(url(state, texts.lang, focus));
    } catch (err) {
      if (err instanceof Refused) {
        if (err.body.reason === "device_revoked") {
          showRevoked(err.body);
          return Object.assign({}, state, {revoked: true, full: true});
        }
        if (err.body.reason === "login_required") {  // a person's session ended: sign in again, then back here
          window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
          return state;
        }
      }
      const s = Object.assign({}, state, {failures: state.failures + 1, downSince: state.downSince || Date.now(),
                                          full: true});
      s.bannerText = banner(s, texts);
      return s;
    }
    if (state.build && body.build !== state.build) {
      window.location.reload();  // new code on the server: run it, not the old page
      return state;
    }
    if (state.revoked) hideRevoked();
    apply(body.panels || {});
    // a null tag (the live store unreachable): the panel keeps what it shows, and its tag
    const have = {};
    for (const p of PANELS) {
      const tag = (body.tags || {})[p];
      have[p] = tag === null || tag === undefined ? state.have[p] : tag;
    }
    const s = Object.assign({}, state, {have: have, build: body.build, failures: 0, downSince: null, full: false,
                                        revoked: false});
    s.bannerText = banner(s, texts);
    return s;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    ioc_wall: {
      poll: function (_n, texts, state, focus) {
        const nu = window.dash_clientside.no_update;
        if (!texts || inFlight) return nu;  // the language first; never two polls at once
        state = state || {have: {}, build: null, failures: 0, downSince: null, full: false, bannerText: "",
                          loadedAt: Date.now()};
        if (Date.now() - state.loadedAt > MIN_HOURS_BEFORE_RELOAD * 3600e3 && localHour() === NIGHTLY_RELOAD_HOUR) {
          window.location.reload();
          return nu;
        }
        inFlight = true;
        const before = JSON.stringify(state);
        pollOnce(state, texts, focus)
          .then((s) => {  // most polls change nothing: then nothing is written
            if (JSON.stringify(s) !== before) window.dash_clientside.set_props("wall-conn", {data: s});
          })
          .catch((err) => console.warn("wall poll", err))
          .finally(() => { inFlight = false; });
        return nu;
      },

      rotate: function (n, texts) {
        const list = (texts && texts.playlist) || [];
        return list.length ? list[(n || 0) % list.length] : window.dash_clientside.no_update;
      },

      clock: function () {
        const d = new Date();
        const date = new Intl.DateTimeFormat("vi-VN", {timeZone: TZ, day: "2-digit", month: "2-digit",
                                                      year: "numeric"}).format(d);
        const time = new Intl.DateTimeFormat("vi-VN", {timeZone: TZ, hour: "2-digit", minute: "2-digit",
                                                      hour12: false}).format(d);
        return [time, " ", date];
      },
    },
  });
})();
