/* Yuqing 舆情 — the monitoring desk's behaviour (no inline handlers: the CSP forbids them).
 *
 *   form[data-autosubmit]   submits when one of its selects changes (filters apply at once)
 *   form[data-bulk]         "select all", the selection count, and buttons enabled only
 *                           when something is selected; checkboxes anywhere in the page join
 *                           it through their form="bulk-form" attribute, also those htmx adds
 */
(function () {
  "use strict";

  function boxes(form) {
    return Array.prototype.slice.call(
      document.querySelectorAll('input[type="checkbox"][name="ids"][form="' + form.id + '"]')
    );
  }

  function refresh(form) {
    var all = boxes(form);
    var chosen = all.filter(function (b) { return b.checked; }).length;
    var count = form.querySelector("[data-bulk-count]");
    if (count) {
      count.textContent = chosen ? (count.getAttribute("data-template") || "N").replace("N", String(chosen)) : "";
    }
    form.querySelectorAll("[data-needs-selection]").forEach(function (button) {
      button.disabled = chosen === 0;
    });
    var master = form.querySelector("[data-select-all]");
    if (master) {
      master.checked = chosen > 0 && chosen === all.length;
      master.indeterminate = chosen > 0 && chosen < all.length;
    }
    document.querySelectorAll(".mention").forEach(function (card) {
      var box = card.querySelector('input[name="ids"]');
      card.classList.toggle("is-selected", Boolean(box && box.checked));
    });
  }

  function initBulk(form) {
    if (form.getAttribute("data-ready")) return;
    form.setAttribute("data-ready", "1");
    var master = form.querySelector("[data-select-all]");
    if (master) {
      master.addEventListener("change", function () {
        boxes(form).forEach(function (b) { b.checked = master.checked; });
        refresh(form);
      });
    }
    document.addEventListener("change", function (event) {
      var t = event.target;
      if (t && t.name === "ids" && t.getAttribute("form") === form.id) refresh(form);
    });
    form.addEventListener("submit", function (event) {
      var action = event.submitter && event.submitter.value;
      var select = form.querySelector('select[name="event"]');
      if (action === "add_to_event" && select && !select.value) {
        event.preventDefault();
        select.focus();
      }
    });
    refresh(form);
  }

  function initAutosubmit(form) {
    if (form.getAttribute("data-ready")) return;
    form.setAttribute("data-ready", "1");
    form.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.name === "period") {
          var range = select.value === "range";
          form.querySelectorAll(".desk-dates").forEach(function (el) {
            el.classList.toggle("is-collapsed", !range);
          });
          if (range) return; // wait for the dates
        }
        form.requestSubmit();
      });
    });
  }

  function initFilterToggle(button) {
    if (button.getAttribute("data-ready")) return;
    button.setAttribute("data-ready", "1");
    button.addEventListener("click", function () {
      var form = button.closest("form");
      var open = !form.classList.contains("is-open");
      form.classList.toggle("is-open", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  function init(root) {
    (root || document).querySelectorAll("[data-filter-toggle]").forEach(initFilterToggle);
    (root || document).querySelectorAll("form[data-bulk]").forEach(initBulk);
    (root || document).querySelectorAll("form[data-autosubmit]").forEach(initAutosubmit);
    document.querySelectorAll("form[data-bulk]").forEach(refresh);
  }

  document.addEventListener("htmx:load", function () { init(document); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
})();
