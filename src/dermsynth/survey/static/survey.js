/* dermsynth reader study: single-key answers and click-to-enlarge on question pages.
   Progressive enhancement only: every page works without this script. */
(function () {
  "use strict";
  var form = document.querySelector("form.question");
  if (!form) return;
  var fig = form.querySelector(".stimulus");
  var img = fig.querySelector("img");
  var btn = fig.querySelector("button.enlarge");
  var keys = { m: "dx-mel", n: "dx-not", s: "syn-yes", r: "syn-no",
               "1": "cert-1", "2": "cert-2", "3": "cert-3", "4": "cert-4", "5": "cert-5" };
  function zoom(on) {
    fig.classList.toggle("zoomed", on);
    btn.setAttribute("aria-pressed", on ? "true" : "false");
    btn.textContent = on ? "Close (Esc)" : "Enlarge (Z)";
  }
  btn.hidden = false;
  form.querySelector(".keys").hidden = false;
  btn.addEventListener("click", function () { zoom(!fig.classList.contains("zoomed")); });
  img.addEventListener("click", function () { zoom(!fig.classList.contains("zoomed")); });
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var k = (e.key || "").toLowerCase();
    if (k === "escape") { zoom(false); return; }
    if (k === "z") { zoom(!fig.classList.contains("zoomed")); e.preventDefault(); return; }
    if (k === "enter" && e.target && e.target.type === "radio") {
      e.preventDefault();
      if (form.reportValidity()) form.requestSubmit();
      return;
    }
    var id = keys[k];
    if (!id) return;
    var el = document.getElementById(id);
    el.checked = true;
    el.focus();
    e.preventDefault();
  });
})();
