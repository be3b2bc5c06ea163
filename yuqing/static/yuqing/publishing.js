/* Publishing: the minimal rich-text editor and comments anchored to selected text.
 *
 * The editor is a contenteditable area over the form's textarea (which stays the field that is
 * submitted and is what people without JavaScript edit). Whatever it produces is sanitised on
 * the server (nh3), so this file only has to be convenient, never trusted.
 */
(function () {
  "use strict";

  function setupEditor(form) {
    var source = form.querySelector("textarea[data-editor-source]");
    var editor = form.querySelector("[data-editor]");
    if (!source || !editor) return;
    var area = editor.querySelector("[data-editor-area]");
    area.innerHTML = source.value;
    // Enter starts a <p>, not a <div>: paragraphs are what the sanitiser and the checks keep.
    document.execCommand("defaultParagraphSeparator", false, "p");
    editor.hidden = false;
    source.hidden = true;
    editor.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-cmd]");
      if (!button) return;
      event.preventDefault();
      area.focus();
      var cmd = button.getAttribute("data-cmd");
      var arg = button.getAttribute("data-arg");
      if (button.hasAttribute("data-prompt")) {
        arg = window.prompt(button.getAttribute("data-prompt"), "https://");
        if (!arg) return;
      }
      document.execCommand(cmd, false, arg);
    });
    document.querySelectorAll("[data-insert-image]").forEach(function (button) {
      button.addEventListener("click", function () {
        area.focus();
        document.execCommand("insertImage", false, button.getAttribute("data-insert-image"));
      });
    });
    form.addEventListener("submit", function () {
      source.value = area.innerHTML;
    });
  }

  // Character offset of (node, offset) in the plain text: paragraphs are joined by "\n".
  function textOffset(container, node, offset) {
    var paragraphs = container.querySelectorAll("p");
    var total = 0;
    for (var i = 0; i < paragraphs.length; i++) {
      var p = paragraphs[i];
      if (p === node || p.contains(node)) {
        var range = document.createRange();
        range.selectNodeContents(p);
        range.setEnd(node, offset);
        return total + range.toString().length;
      }
      total += p.textContent.length + 1;
    }
    return -1;
  }

  function setupAnchors() {
    var text = document.querySelector("[data-anchorable]");
    var form = document.getElementById("act-form");
    if (!text || !form) return;
    var input = form.querySelector("input[name=anchors]");
    var list = form.querySelector("[data-anchor-list]");
    var hint = document.querySelector("[data-select-hint]");
    if (hint) hint.hidden = false;
    var anchors = [];
    try { anchors = JSON.parse(input.value || "[]"); } catch (e) { anchors = []; }

    function render() {
      input.value = JSON.stringify(anchors);
      var ul = list.querySelector("ul");
      ul.textContent = "";
      anchors.forEach(function (a, i) {
        var li = document.createElement("li");
        var q = document.createElement("q");
        q.textContent = a.quote;
        li.appendChild(q);
        li.appendChild(document.createTextNode(" " + a.body + " "));
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "btn btn-small btn-quiet";
        remove.textContent = "×";
        remove.addEventListener("click", function () { anchors.splice(i, 1); render(); });
        li.appendChild(remove);
        ul.appendChild(li);
      });
      list.hidden = anchors.length === 0;
    }

    text.addEventListener("mouseup", function () {
      var selection = window.getSelection();
      if (!selection || selection.isCollapsed || selection.rangeCount === 0) return;
      var range = selection.getRangeAt(0);
      if (!text.contains(range.startContainer) || !text.contains(range.endContainer)) return;
      var start = textOffset(text, range.startContainer, range.startOffset);
      var end = textOffset(text, range.endContainer, range.endOffset);
      if (start < 0 || end <= start) return;
      var quote = selection.toString();
      var body = window.prompt(text.getAttribute("data-prompt") || "…", "");
      if (!body) return;
      anchors.push({ start: start, end: end, body: body, quote: quote.slice(0, 80) });
      selection.removeAllRanges();
      render();
    });
    render();
  }

  function setupActions() {
    var form = document.getElementById("act-form");
    if (!form) return;
    var credential = form.querySelector("input[name=credential]");
    if (!credential) return;
    var field = credential.closest(".field");
    function update() {
      var chosen = form.querySelector("input[name=action]:checked");
      var approving = !chosen || chosen.value.indexOf("approve") === 0;
      field.hidden = !approving;
      credential.required = !!chosen && approving;
    }
    form.addEventListener("change", update);
    update();
  }

  function start() {
    document.querySelectorAll("form.pub-editor-form").forEach(setupEditor);
    setupAnchors();
    setupActions();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
