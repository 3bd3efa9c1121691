// Panels that load on their own request (hx-get … hx-trigger="load"): marked aria-busy while
// they load, and told in words when they cannot load — a server error, a lost connection or a
// timeout — never left saying "loading…".
(function () {
  function panelOf(el) { return el && el.closest ? el.closest("[data-panel]") : null; }
  function fail(panel, why) {
    if (!panel) return;
    panel.setAttribute("aria-busy", "false");
    var status = panel.querySelector("[data-loading]");
    var message = document.createElement("p");
    message.className = "error";
    message.setAttribute("role", "alert");
    message.setAttribute("data-testid", "panel-failed");
    message.textContent = "This panel could not load (" + why + "). The rest of the page is " +
      "unaffected; reload the page to try again.";
    if (status) { status.replaceWith(message); } else { panel.appendChild(message); }
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    var panel = panelOf(e.target);
    if (panel) panel.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    var panel = panelOf(e.target);
    if (panel) panel.setAttribute("aria-busy", "false");
  });
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail && e.detail.xhr;
    fail(panelOf(e.target), "the server answered " + (xhr ? xhr.status : "an error"));
  });
  document.addEventListener("htmx:sendError", function (e) {
    fail(panelOf(e.target), "the server could not be reached");
  });
  document.addEventListener("htmx:timeout", function (e) {
    fail(panelOf(e.target), "it took too long");
  });
})();
