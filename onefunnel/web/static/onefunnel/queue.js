// Live SLA countdowns in the queue: "due in 3h 12m", or "overdue by 25m" in red. No inline
// script (the Content-Security-Policy allows only files served by onefunnel).
(function () {
  "use strict";
  function span(ms) {
    var m = Math.floor(Math.abs(ms) / 60000), d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60);
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + (m % 60) + "m";
    return (m % 60) + "m " + Math.floor((Math.abs(ms) % 60000) / 1000) + "s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.sla[data-due]").forEach(function (el) {
      if (el.dataset.met) { el.textContent = "responded"; return; }
      var left = Date.parse(el.dataset.due) - now;
      el.textContent = left >= 0 ? "due in " + span(left) : "overdue by " + span(left);
      el.classList.toggle("overdue", left < 0);
      var row = el.closest("article.handoff");
      if (row && left < 0) row.classList.add("breached");
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 1000);
})();
