/* Yuqing 舆情 — the little behaviour every page shares. No inline handlers anywhere: the
 * Content-Security-Policy allows scripts from our own files only, so behaviour is attached
 * here, by class and data-* attribute.
 *
 *   .menu-toggle          opens and closes the side navigation on a phone
 *   #messages             gets close buttons; failed htmx requests are reported in it
 *   form[data-confirm]    asks before submitting (e.g. a delete)
 */
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  function setMenu(open) {
    var toggle = document.querySelector(".menu-toggle");
    document.body.classList.toggle("nav-open", open);
    if (toggle) toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function initMenu() {
    var toggle = document.querySelector(".menu-toggle");
    var nav = document.getElementById("site-nav");
    if (!toggle || !nav) return;
    toggle.addEventListener("click", function () {
      setMenu(!document.body.classList.contains("nav-open"));
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && document.body.classList.contains("nav-open")) {
        setMenu(false);
        toggle.focus();
      }
    });
    // A tap on the dimmed page behind the open menu closes it.
    document.addEventListener("click", function (event) {
      if (!document.body.classList.contains("nav-open")) return;
      if (nav.contains(event.target) || toggle.contains(event.target)) return;
      setMenu(false);
    });
    window.matchMedia("(min-width: 861px)").addEventListener("change", function (mq) {
      if (mq.matches) setMenu(false);
    });
  }

  function addCloseButton(box, label) {
    if (box.querySelector(".alert-close")) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "alert-close";
    button.setAttribute("aria-label", label);
    button.textContent = "\u00d7";
    button.addEventListener("click", function () { box.remove(); });
    box.appendChild(button);
  }

  function initMessages(scope) {
    var holder = document.getElementById("messages");
    if (!holder) return;
    var label = holder.getAttribute("data-close-text") || "Close";
    (scope || holder).querySelectorAll("#messages .alert-box, .alert-box[data-dismissible]").forEach(function (box) {
      addCloseButton(box, label);
    });
  }

  function showError(text) {
    var holder = document.getElementById("messages");
    if (!holder) return;
    var box = document.createElement("div");
    box.className = "alert-box alert-error";
    box.setAttribute("role", "alert");
    var body = document.createElement("div");
    body.className = "alert-body";
    body.textContent = text;
    box.appendChild(body);
    holder.appendChild(box);
    initMessages(holder);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  document.addEventListener("htmx:responseError", function (event) {
    var holder = document.getElementById("messages");
    var status = event.detail && event.detail.xhr ? " (" + event.detail.xhr.status + ")" : "";
    showError((holder && holder.getAttribute("data-error-text") || "Request failed") + status);
  });
  document.addEventListener("htmx:sendError", function () {
    var holder = document.getElementById("messages");
    showError(holder && holder.getAttribute("data-error-text") || "Request failed");
  });
  document.addEventListener("htmx:load", function (event) { initMessages(event.detail.elt); });
  // A fragment request that ended on the sign-in page (the session expired overnight) must not
  // paste the sign-in form into a card: go to the sign-in page properly instead.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.responseURL && /\/accounts\/login\//.test(new URL(xhr.responseURL).pathname)) {
      event.detail.shouldSwap = false;
      window.location.assign(xhr.responseURL);
    }
  });

  function ready() {
    initMenu();
    initMessages();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
