/* Yuqing 舆情 — the monitoring dashboard and the duty-room display.
 * Full-screen on request (browsers allow it only from a click), and a clock on the display.
 * The display's data refresh is htmx's (hx-trigger="every 60s" on #dashboard-body).
 */
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function tick(node) {
    var d = new Date();
    node.textContent = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
      " " + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function init() {
    document.querySelectorAll("[data-fullscreen]").forEach(function (button) {
      if (!document.fullscreenEnabled) { button.hidden = true; return; }
      button.addEventListener("click", function () {
        if (document.fullscreenElement) {
          document.exitFullscreen();
        } else {
          document.documentElement.requestFullscreen().catch(function () { button.hidden = true; });
        }
      });
    });
    var clock = document.querySelector("[data-clock]");
    if (clock) {
      tick(clock);
      window.setInterval(function () { tick(clock); }, 1000);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
