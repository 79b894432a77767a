// Small behaviours the server cannot do. No inline scripts: the CSP allows only this origin.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#input-id">
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.value || source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      source.select && source.select();
      document.execCommand("copy");
      done();
    }
  });

  // Close an open <details> menu when clicking elsewhere or pressing Escape.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details.menu[open]").forEach(function (m) { m.removeAttribute("open"); });
    }
  });

  // Esc cancels an inline edit: one listener on the document, so the key works the moment the
  // form is swapped in (an attribute on the input only works once htmx has processed it).
  document.addEventListener("keyup", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    var form = event.target.closest("form.inline-edit[data-cancel-url]");
    if (form && window.htmx) {
      window.htmx.ajax("GET", form.dataset.cancelUrl, { target: form, swap: "outerHTML" });
    }
  });

  // Toasts fade away on their own.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "toasts") {
      var toast = event.detail.target.lastElementChild;
      setTimeout(function () { toast && toast.remove(); }, 6000);
    }
  });
})();

// A saved view stores the list's query as it is now (filters change the URL as you type).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.hasAttribute("data-save-view")) {
    form.elements.namedItem("query").value = window.location.search.replace(/^\?/, "");
  }
}, true);
