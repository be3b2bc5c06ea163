/* Alerts forms: show only the settings of the chosen rule or channel kind.
 * Fields carry data-kinds="burst negative_ratio"; without JavaScript every field shows. */
(function () {
  "use strict";

  function sync(form) {
    var select = form.querySelector("select[name='kind']");
    if (!select) return;
    form.querySelectorAll("[data-kinds]").forEach(function (field) {
      var kinds = field.getAttribute("data-kinds").split(" ");
      field.hidden = kinds.indexOf(select.value) === -1;
    });
  }

  function init() {
    document.querySelectorAll("form[data-kind-form]").forEach(function (form) {
      sync(form);
      form.addEventListener("change", function (event) {
        if (event.target && event.target.name === "kind") sync(form);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
