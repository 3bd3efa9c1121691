// Render every element with data-spec="<id of a json_script>" as a Vega-Lite chart.
function renderCharts(root) {
  root.querySelectorAll("[data-spec]").forEach(function (el) {
    var source = document.getElementById(el.dataset.spec);
    if (!source || el.dataset.rendered) return;
    el.dataset.rendered = "1";
    vegaEmbed(el, JSON.parse(source.textContent), { actions: false, renderer: "svg" })
      .catch(function (err) { el.textContent = "chart failed: " + err; });
  });
}
document.addEventListener("DOMContentLoaded", function () { renderCharts(document); });
document.addEventListener("htmx:afterSwap", function (e) { renderCharts(e.target); });
