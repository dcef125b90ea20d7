/* Map styling functions referenced from Python with dash_extensions.javascript.Namespace("ioc", "map").
   A static file (not assign()): safe with several workers and read-only disks. */
window.ioc = Object.assign({}, window.ioc, {
  map: {
    // communes coloured by class: hideout = {classes: {code: i}, colours: [...], none: "#..."}
    communeStyle: function (feature, context) {
      const h = (context && (context.hideout || (context.props && context.props.hideout))) || {};
      const cls = (h.classes || {})[feature.properties.code];
      const fill = cls === undefined ? (h.none || "#3a4150") : h.colours[cls];
      return {fillColor: fill, fillOpacity: 0.85, color: "#0b0f16", weight: 1, opacity: 1};
    },
  },
});
