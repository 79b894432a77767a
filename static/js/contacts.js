// Contacts pages: after a composer save, keep the focus where the next entry is typed.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.classList && target.classList.contains("composer")) {
      var fresh = document.getElementById(target.id);
      var box = fresh && fresh.querySelector("textarea");
      if (box && event.detail.xhr && event.detail.xhr.status === 422) box.focus();
    }
  });
})();
