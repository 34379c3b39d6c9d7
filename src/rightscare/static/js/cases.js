/*
 * Case pages. No inline script (the Content-Security-Policy forbids it).
 *
 *  - A progress note's "text for the petitioner" field is shown only while the note's
 *    visibility is "public for the petitioner"; without JavaScript it is always shown.
 */
(function () {
  "use strict";

  function syncPublicText(form) {
    var textarea = form.querySelector("textarea[name=public_text]");
    var chosen = form.querySelector("input[name=visibility]:checked");
    if (!textarea) {
      return;
    }
    var field = textarea.closest(".field");
    if (field) {
      field.hidden = !chosen || chosen.value !== "public";
    }
  }

  function init(root) {
    root.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("input[name=visibility]")) {
        syncPublicText(form);
      }
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.name === "visibility" && target.form) {
      syncPublicText(target.form);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
  });
})();
