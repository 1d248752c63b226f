// Renders the admin API reference with the vendored Redoc bundle.
(function () {
  var el = document.getElementById("redoc");
  if (!el || !window.Redoc) return;
  window.Redoc.init(el.getAttribute("data-spec"), { hideDownloadButton: false, disableSearch: false, expandResponses: "200,201" }, el);
})();
