/* Registers the mobile view's service worker (/sw.js, scope /) on /m only. Dash loads every
 * .js in assets/ on every page: elsewhere this does nothing. Dash pages change the path
 * without a reload (dcc.Link), hence the second check on its navigation event. */
(function () {
  if (!("serviceWorker" in navigator)) return;
  function maybeRegister() {
    if (/^\/m(\/|$)/.test(window.location.pathname)) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* the page works without it */ });
    }
  }
  maybeRegister();
  window.addEventListener("_dashprivate_pushstate", maybeRegister);
})();
