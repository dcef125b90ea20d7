/* The wall's clientside callbacks (layouts/wall.py): the version poll, the focus-panel rotation
   and the clock. Loaded on every page (Dash loads all of assets/), used only by /wall. */
(function () {
  const PANELS = ["tiles", "alerts", "map", "focus", "badges"];
  const FAILS_BEFORE_BANNER = 3;      // ~3 s without the server before saying so
  const NIGHTLY_RELOAD_HOUR = 3;      // local hour of the daily reload (memory stays flat)
  const MIN_HOURS_BEFORE_RELOAD = 12;
  const TZ = "Asia/Ho_Chi_Minh";

  function hhmm(ms) {
    return new Intl.DateTimeFormat("vi-VN", {timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false})
      .format(new Date(ms));
  }

  function localHour() {
    return Number(new Intl.DateTimeFormat("en-GB", {timeZone: TZ, hour: "2-digit", hour12: false})
      .format(new Date()));
  }

  async function fetchVersions() {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), 4000);
    try {
      const res = await fetch("/api/views/versions", {cache: "no-store", signal: ctrl.signal,
                                                     credentials: "same-origin"});
      if (!res.ok) throw new Error("HTTP " + res.status);
      return await res.json();
    } finally {
      clearTimeout(timer);
    }
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    ioc_wall: {
      poll: async function (_n, state, texts) {
        const nu = window.dash_clientside.no_update;
        const keep = PANELS.map(() => nu);
        state = state || {versions: {}, build: null, failures: 0, downSince: null, loadedAt: Date.now(), epoch: 0};
        texts = texts || {};
        if (Date.now() - state.loadedAt > MIN_HOURS_BEFORE_RELOAD * 3600e3 && localHour() === NIGHTLY_RELOAD_HOUR) {
          window.location.reload();
          return [state, ...keep, nu, nu];
        }
        let body;
        try {
          body = await fetchVersions();
        } catch (err) {
          const s = Object.assign({}, state, {failures: state.failures + 1, downSince: state.downSince || Date.now()});
          const show = s.failures >= FAILS_BEFORE_BANNER;
          const text = show ? (texts.server_down || "…").replace("{since}", hhmm(s.downSince)) : "";
          return [s, ...keep, text, show ? "wall-banner show" : "wall-banner"];
        }
        if (state.build && body.build !== state.build) {
          window.location.reload();  // new code on the server: run it, not the old page
          return [state, ...keep, nu, nu];
        }
        // back after an outage: re-render every panel once, whatever the tokens say
        const epoch = state.failures > 0 ? state.epoch + 1 : state.epoch;
        // a null token (the live store unreachable): keep what the panel shows
        const versions = {};
        const out = PANELS.map((p) => {
          const raw = (body.versions || {})[p];
          if (raw === null || raw === undefined) { versions[p] = state.versions[p]; return nu; }
          versions[p] = raw + "#" + epoch;
          return versions[p] !== state.versions[p] ? versions[p] : nu;
        });
        const s = {versions: versions, build: body.build, failures: 0, downSince: null,
                   loadedAt: state.loadedAt, epoch: epoch};
        return [s, ...out, "", "wall-banner"];
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
