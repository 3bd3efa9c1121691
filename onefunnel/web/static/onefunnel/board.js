// The deal board's drag and drop. Dropping a card on a column submits the card's own
// "move to…" form (the same one a keyboard or a browser without JavaScript uses) and swaps in
// the board the server answers with. Dropping on the lost column opens the deal's page at its
// "lose" form, since losing needs a reason. No inline script (the Content-Security-Policy
// allows only files served by onefunnel).
(function () {
  "use strict";
  var dragged = null;

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("board-page");
    var here = document.getElementById("board-page");
    if (fresh && here) here.innerHTML = fresh.innerHTML;
  }

  function move(card, column) {
    var form = card.querySelector("form.move");
    if (!form) return;
    if (column.dataset.lost) {
      window.location.href = card.querySelector("a.name").getAttribute("href") + "#lose";
      return;
    }
    form.querySelector("select[name=stage]").value = column.dataset.stage;
    card.classList.add("moving");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    })
      .then(function (response) { return response.text(); })
      .then(swap)
      .catch(function () { card.classList.remove("moving"); });
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".deal-card[draggable=true]");
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.deal);
  });
  document.addEventListener("dragend", function () {
    dragged = null;
    document.querySelectorAll(".column.over").forEach(function (c) { c.classList.remove("over"); });
  });
  document.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".column");
    if (!dragged || !column || column.contains(dragged)) return;
    event.preventDefault();
    column.classList.add("over");
  });
  document.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".column");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("over");
  });
  document.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".column");
    if (!dragged || !column || column.contains(dragged)) return;
    event.preventDefault();
    column.classList.remove("over");
    move(dragged, column);
  });
})();
