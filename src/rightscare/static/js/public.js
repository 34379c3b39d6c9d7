/*
 * Behaviour of the public pages (request form, tracking). No inline script (CSP).
 *
 *  - a[data-quick-exit]       leaves at once for a neutral site with location.replace(), so
 *                             Back does not return here; Esc pressed twice does the same.
 *  - a[data-replace]          moves between the public pages without adding a history entry.
 *  - form[data-replace-submit] (the language switcher) posts in the background, then replaces
 *                             the page, again without a history entry.
 *  - button[data-once]        is disabled after its form is sent (a double click sends once;
 *                             the server also recognises the form's submission key).
 *  - [data-focus]             swapped in by htmx receives the focus (the tracking code).
 */
(function () {
  "use strict";

  function quickExit(event) {
    if (event) {
      event.preventDefault();
    }
    var target = document.body.getAttribute("data-quick-exit-url") || "https://www.baidu.com/";
    document.body.innerHTML = "";
    document.title = "";
    window.location.replace(target);
  }

  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest("a[data-quick-exit], a[data-replace]") : null;
    if (!link) {
      return;
    }
    if (link.hasAttribute("data-quick-exit")) {
      quickExit(event);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) {
      return;
    }
    event.preventDefault();
    window.location.replace(link.href);
  });

  // Esc twice within a second and a half leaves too (once would close a menu or a picker).
  var lastEscape = 0;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    var now = Date.now();
    if (now - lastEscape < 1500) {
      quickExit(event);
    }
    lastEscape = now;
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    if (form.hasAttribute("data-replace-submit")) {
      event.preventDefault();
      var data = new FormData(form);
      if (event.submitter && event.submitter.name) {
        data.append(event.submitter.name, event.submitter.value);
      }
      var next = data.get("next") || window.location.pathname;
      window.fetch(form.action, { method: "POST", body: data, credentials: "same-origin" }).then(function () {
        window.location.replace(next);
      });
      return;
    }
    var buttons = form.querySelectorAll("button[data-once]");
    if (form.dataset.submitting === "true") {
      event.preventDefault();
      return;
    }
    if (buttons.length) {
      form.dataset.submitting = "true";
      window.setTimeout(function () {
        buttons.forEach(function (button) {
          button.disabled = true;
        });
      }, 0);
    }
  });

  // An htmx answer replaced the form: a form that came back (with errors) is usable again.
  document.addEventListener("htmx:afterSwap", function () {
    var focus = document.querySelector("[data-focus]");
    if (focus) {
      focus.focus();
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target instanceof HTMLFormElement ? event.target : null;
    if (form) {
      delete form.dataset.submitting;
      form.querySelectorAll("button[data-once]").forEach(function (button) {
        button.disabled = false;
      });
    }
  });
})();
