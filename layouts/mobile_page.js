/* The leaders' mobile view /m (layouts/mobile.py inlines this into the page). The page is
 * readable and every control works without it; it only:
 *  - fills the trends when the server sent the page without them (not computed yet);
 *  - refreshes the figures every minute from /m/parts, and when the phone shows the page again
 *    or comes back online, keeping open cards open;
 *  - says since when the server cannot be reached and marks the cards stale meanwhile;
 *  - keeps the language in step with the other pages (their choice lives in localStorage "lang");
 *  - registers the service worker (/sw.js, which never caches data).
 */
(function () {
  "use strict";
  var root = document.querySelector(".mobile[data-m]");
  if (!root) return;
  var cfg = JSON.parse(root.getAttribute("data-m"));

  try {
    var stored = JSON.parse(window.localStorage.getItem("lang") || "null");
    if (cfg.chosen) {
      window.localStorage.setItem("lang", JSON.stringify(cfg.lang));
    } else if ((stored === "vi" || stored === "en") && stored !== cfg.lang) {
      // chosen on another page since: show that language (the server then keeps it in a cookie)
      window.location.replace("/m?p=" + cfg.period + "&lang=" + stored);
      return;
    }
  } catch (e) { /* no storage: the cookie alone */ }

  var lastOk = Date.now();

  function hhmm(ms) {
    return new Intl.DateTimeFormat("vi-VN", {timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit",
                                             hour12: false}).format(new Date(ms));
  }

  function apply(parts) {
    Object.keys(parts).forEach(function (id) {
      var el = document.getElementById(id), part = parts[id];
      if (!el) return;
      if (part.html !== undefined) { el.innerHTML = part.html; el.removeAttribute("data-pending"); }
      if (part["class"] !== undefined) el.className = part["class"];  // keeps the open attribute
    });
  }

  function unreachable(yes) {
    var banner = document.getElementById("m-offline");
    banner.hidden = !yes;
    banner.textContent = yes ? "✖ " + cfg.offline.replace("{since}", hhmm(lastOk)) : "";
    if (yes) {
      Array.prototype.forEach.call(document.querySelectorAll(".m-card"), function (c) { c.classList.add("m-stale"); });
    }
  }

  function load(what) {
    var url = "/m/parts?p=" + cfg.period + "&lang=" + cfg.lang + "&what=" + what;
    return fetch(url, {cache: "no-store", credentials: "same-origin"})
      .then(function (res) { if (!res.ok) throw new Error("HTTP " + res.status); return res.json(); })
      .then(function (parts) { lastOk = Date.now(); unreachable(false); apply(parts); })
      .catch(function () { unreachable(true); });
  }

  if (document.querySelector(".m-trend[data-pending]")) load("trends");
  window.setInterval(function () { load("all"); }, cfg.refresh);
  // a phone back on the page (the app reopened, the screen unlocked) or back online: at once
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") load("all");
  });
  window.addEventListener("online", function () { load("all"); });

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(function () { /* the page works without it */ });
  }
})();
