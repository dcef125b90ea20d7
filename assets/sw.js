/* Service worker of the leaders' mobile view (served as /sw.js, scope /).
 *
 * It NEVER caches data: the pages themselves (/m carries its figures in its HTML), /m/parts,
 * Dash callbacks (/_dash-*), the JSON endpoints (/api/*) and /healthz always go to the network,
 * so a phone never shows old figures as if they were current (the page says itself when a
 * source is stale, or when the server cannot be reached). Only the static files under /assets/
 * (CSS, icons, JS; their URLs change when the file changes, ?m=<mtime>) are kept, served from
 * the cache and refreshed in the background.
 */
const CACHE = "ioc-static-v1";

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  // everything but a GET of a static asset of this origin: the browser's own network fetch
  if (req.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/assets/")) {
    return;
  }
  event.respondWith(
    caches.open(CACHE).then((cache) =>
      cache.match(req).then((hit) => {
        const fresh = fetch(req).then((res) => {
          if (res.ok) cache.put(req, res.clone());
          return res;
        });
        if (hit) {
          event.waitUntil(fresh.catch(() => undefined));
          return hit;
        }
        return fresh;
      })
    )
  );
});
