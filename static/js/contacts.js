// Contacts pages: the bulk bar's action fields, "select all", and composer focus.
(function () {
  "use strict";

  function syncBulk(select) {
    var bar = select.closest(".bulk-bar");
    if (bar) bar.setAttribute("data-action", select.value);
  }

  function syncSelection() {
    var any = document.querySelector("input[name=ids][form=bulk-form]:checked");
    document.querySelectorAll(".bulk-bar").forEach(function (bar) {
      bar.classList.toggle("has-selection", !!any);
    });
  }

  // After a bulk action, come back to the list as filtered now (the URL htmx pushed).
  function syncNext() {
    document.querySelectorAll("#bulk-form input[name=next]").forEach(function (input) {
      input.value = location.pathname + location.search;
    });
  }

  function ready() {
    document.querySelectorAll(".bulk-bar").forEach(function (bar) {
      bar.classList.add("js-ready");
      var select = bar.querySelector("select[name=action]");
      if (select) syncBulk(select);
    });
    syncSelection();
    syncNext();
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches(".bulk-bar select[name=action]")) syncBulk(target);
    if (target.matches("#select-all")) {
      document.querySelectorAll("input[name=ids][form=bulk-form]").forEach(function (box) {
        box.checked = target.checked;
      });
    }
    if (target.matches("input[name=ids], #select-all")) syncSelection();
  });

  // After a failed composer save, put the cursor back in the form.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.classList && target.classList.contains("composer")) {
      var fresh = document.getElementById(target.id);
      var box = fresh && fresh.querySelector("textarea");
      if (box && event.detail.xhr && event.detail.xhr.status === 422) box.focus();
    }
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
  document.addEventListener("htmx:load", ready);
  document.addEventListener("htmx:pushedIntoHistory", syncNext);
})();
