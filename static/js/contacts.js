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

  // "Add another email/phone": copy the last row with the next index (emails-2-email, …).
  function addRow(list, max) {
    var rows = document.querySelectorAll(".pair[data-list=" + list + "]");
    var last = rows[rows.length - 1];
    if (!last || rows.length >= max) return;
    var next = rows.length;
    var copy = last.cloneNode(true);
    var word = list === "emails" ? "Email" : "Phone";
    copy.querySelectorAll("[id], [for], [name]").forEach(function (el) {
      ["id", "for", "name"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value) el.setAttribute(attr, value.replace(/^(emails|phones)-\d+-/, list + "-" + next + "-"));
      });
    });
    copy.querySelectorAll("label").forEach(function (label) {
      label.textContent = label.textContent.replace(new RegExp("^" + word + "( \\d+)?"), word + " " + (next + 1));
    });
    copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    copy.querySelectorAll(".error").forEach(function (el) { el.remove(); });
    copy.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    last.after(copy);
    var input = copy.querySelector("input");
    if (input) input.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-row]");
    if (button) addRow(button.getAttribute("data-add-row"), Number(button.getAttribute("data-max-rows")) || 10);
  });

  function ready() {
    document.querySelectorAll("[data-add-row][hidden]").forEach(function (b) { b.hidden = false; });
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
