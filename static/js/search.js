// The search box and the app's keyboard shortcuts (no inline scripts: the CSP forbids them).
//   /  or Ctrl/Cmd+K  focus search        ↑ ↓ Enter  pick a suggestion      Esc  close
//   ?  shortcuts help   j / k  move through [data-list] [data-list-item]   Enter  open it
//   g then c / o / d / t   go to contacts / companies / deals / tasks
(function () {
  "use strict";
  if (window.rapportSearch) return; // boosted navigations re-run deferred scripts
  window.rapportSearch = true;

  var OPTION = "#search-suggest [role=option]";
  var pendingG = 0;

  function box() { return document.getElementById("search-box"); }
  function input() { return document.getElementById("search-q"); }
  function suggest() { return document.getElementById("search-suggest"); }

  function typing(target) {
    if (!target || !target.closest) return false;
    return !!target.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]");
  }

  function options() { return Array.prototype.slice.call(document.querySelectorAll(OPTION)); }

  function setActive(index) {
    var list = options();
    var field = input();
    list.forEach(function (el, i) {
      var on = i === index;
      el.classList.toggle("is-active", on);
      el.setAttribute("aria-selected", on ? "true" : "false");
      if (on) {
        field.setAttribute("aria-activedescendant", el.id);
        el.scrollIntoView({ block: "nearest" });
      }
    });
    if (index < 0 && field) field.removeAttribute("aria-activedescendant");
  }

  function activeIndex() {
    return options().findIndex(function (el) { return el.classList.contains("is-active"); });
  }

  function openSearch() {
    var b = box();
    var field = input();
    if (!b || !field) return;
    b.classList.add("is-open");
    b.querySelector(".search-open").setAttribute("aria-expanded", "true");
    field.focus();
    field.select();
  }

  function closeSuggest() {
    var list = suggest();
    if (list) list.innerHTML = "";
    var field = input();
    if (field) {
      field.setAttribute("aria-expanded", "false");
      field.removeAttribute("aria-activedescendant");
    }
  }

  function closeSearch() {
    closeSuggest();
    var b = box();
    if (!b) return;
    b.classList.remove("is-open");
    b.querySelector(".search-open").setAttribute("aria-expanded", "false");
    var field = input();
    if (field) field.blur();
  }

  function navigate(url) { if (url) window.location.assign(url); }

  // --- list navigation (j / k / Enter) -------------------------------------------------
  function listItems() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-list] [data-list-item]"));
  }

  function moveInList(step) {
    var items = listItems();
    if (!items.length) return;
    var current = items.indexOf(document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("[data-list-item]") : null);
    var next = current < 0 ? (step > 0 ? 0 : items.length - 1)
      : Math.min(items.length - 1, Math.max(0, current + step));
    var item = items[next];
    if (!item.hasAttribute("tabindex")) item.setAttribute("tabindex", "-1");
    items.forEach(function (el) { el.classList.toggle("is-focused", el === item); });
    item.focus();
    item.scrollIntoView({ block: "nearest" });
  }

  // --- events --------------------------------------------------------------------------
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "search-suggest") {
      var field = input();
      var has = options().length > 0;
      if (field) field.setAttribute("aria-expanded", has ? "true" : "false");
      setActive(-1);
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest(".search-open")) { openSearch(); return; }
    if (event.target.closest(".search-close")) { closeSearch(); return; }
    var b = box();
    if (b && !b.contains(event.target)) closeSuggest();
  });

  document.addEventListener("keydown", function (event) {
    var field = input();
    var target = event.target;

    // Inside the search box: arrows, Enter, Esc.
    if (field && target === field) {
      var count = options().length;
      if (event.key === "ArrowDown" && count) {
        event.preventDefault();
        setActive(Math.min(count - 1, activeIndex() + 1));
      } else if (event.key === "ArrowUp" && count) {
        event.preventDefault();
        setActive(Math.max(-1, activeIndex() - 1));
      } else if (event.key === "Enter") {
        var i = activeIndex();
        if (i >= 0) {
          event.preventDefault();
          navigate(options()[i].getAttribute("href"));
        }
      } else if (event.key === "Escape") {
        event.preventDefault();
        if (options().length) closeSuggest(); else closeSearch();
      }
      return;
    }

    // Ctrl/Cmd+K works everywhere, even while typing elsewhere.
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "k" || event.key === "K")) {
      event.preventDefault();
      openSearch();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(target)) return;
    if (document.querySelector("dialog[open]") && event.key !== "Escape") return;

    if (event.key === "/") {
      event.preventDefault();
      openSearch();
    } else if (event.key === "?") {
      var help = document.getElementById("shortcuts");
      if (help && !help.open) { event.preventDefault(); help.showModal(); }
    } else if (event.key === "Escape") {
      closeSearch();
    } else if (pendingG && "codt".indexOf(event.key) >= 0 && event.key.length === 1) {
      pendingG = 0;
      var b = box();
      var url = b && b.getAttribute("data-go-" + event.key);
      if (url) { event.preventDefault(); navigate(url); }
    } else if (event.key === "g") {
      pendingG = Date.now();
      setTimeout(function () { pendingG = 0; }, 1500);
    } else if (event.key === "j" || event.key === "k") {
      if (listItems().length) { event.preventDefault(); moveInList(event.key === "j" ? 1 : -1); }
    } else if (event.key === "Enter" && target.matches && target.matches("[data-list-item]")) {
      var link = target.querySelector("a[href]");
      if (link) { event.preventDefault(); link.click(); }
    }
  });
})();
