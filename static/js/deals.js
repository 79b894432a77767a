// The deal board: drag cards between and within columns (SortableJS) and persist each move
// through an htmx request; reorder stages in settings. No inline scripts (CSP).
(function () {
  "use strict";
  // A boosted navigation runs this file again: the first copy's listeners already cover it.
  if (window.rapportDeals) return;
  window.rapportDeals = true;

  function filterValues() {
    var form = document.getElementById("board-filters");
    var values = {};
    if (!form) return values;
    new FormData(form).forEach(function (value, key) { if (value) values[key] = value; });
    return values;
  }

  function previousCard(card) {
    var el = card.previousElementSibling;
    while (el && !el.classList.contains("deal-card")) el = el.previousElementSibling;
    return el;
  }

  function onDrop(event) {
    var card = event.item;
    if (event.from === event.to && event.oldIndex === event.newIndex) return;
    var above = previousCard(card);
    var values = filterValues();
    values.stage_id = event.to.getAttribute("data-stage-id");
    values.after_id = above ? above.getAttribute("data-deal-id") : "";
    values.version = card.getAttribute("data-version");
    htmx.ajax("POST", card.getAttribute("data-move-url"), {
      source: card, target: card, swap: "outerHTML", values: values
    });
  }

  function initBoard(root) {
    if (typeof Sortable === "undefined") return;
    root.querySelectorAll("ol.cards").forEach(function (list) {
      if (list._sortable) return;
      list._sortable = Sortable.create(list, {
        group: "deals",
        draggable: ".deal-card",
        filter: ".more, details, select, button, input, label",
        preventOnFilter: false,
        forceFallback: true,
        fallbackTolerance: 4,
        delayOnTouchOnly: true,
        delay: 180,
        animation: 120,
        onEnd: onDrop
      });
    });
  }

  function initStages(root) {
    if (typeof Sortable === "undefined") return;
    root.querySelectorAll("ol.stage-list").forEach(function (list) {
      if (list._sortable) return;
      list._sortable = Sortable.create(list, {
        handle: ".drag-handle",
        forceFallback: true,
        animation: 120,
        onEnd: function (event) {
          if (event.oldIndex !== event.newIndex) htmx.trigger(list.closest("form"), "stages-sorted");
        }
      });
    });
  }

  // Phones: the stage picker scrolls its column into view inside the board, not the page.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-stage-link]");
    if (!link) return;
    var column = document.getElementById("stage-" + link.getAttribute("data-stage-link"));
    if (!column) return;
    event.preventDefault();
    column.scrollIntoView({ behavior: "smooth", block: "nearest", inline: "start" });
  });

  function init(root) {
    // Script tags swapped in by htmx load in any order: wait for Sortable if needed.
    if (typeof Sortable === "undefined") {
      setTimeout(function () { init(root); }, 30);
      return;
    }
    initBoard(root);
    initStages(root);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt.parentElement || document); });
})();
