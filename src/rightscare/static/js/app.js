/*
 * RightsCare page behaviour. No inline script anywhere (the Content-Security-Policy
 * forbids it): everything the pages need is wired here through data attributes.
 *
 *  - form[data-confirm="…"]   asks for confirmation before submitting (revoke actions).
 *  - button[data-once]        is disabled after its form is submitted, so a double
 *                             click sends one request (the server also deduplicates
 *                             through the form's idempotency key).
 *  - input[data-select-on-focus] selects its whole value on focus (a new API token).
 */
(function () {
  "use strict";

  function onceButtons(form) {
    return form.querySelectorAll("button[data-once], input[type=submit][data-once]");
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    var question = form.dataset.confirm;
    if (question && form.dataset.submitting !== "true" && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    var buttons = onceButtons(form);
    if (buttons.length === 0 || event.defaultPrevented) {
      return;
    }
    if (form.dataset.submitting === "true") {
      // A second click (or Enter) while the first submission is on its way.
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "true";
    form.setAttribute("aria-busy", "true");
    // Disable after the browser has built the form data: a button disabled
    // during the submit event would drop its own name and value.
    window.setTimeout(function () {
      buttons.forEach(function (button) {
        button.disabled = true;
        button.classList.add("is-busy");
      });
    }, 0);
  });

  // Coming back with the Back button restores the page from the cache with its
  // buttons still disabled; enable them again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      delete form.dataset.submitting;
      form.removeAttribute("aria-busy");
      onceButtons(form).forEach(function (button) {
        button.disabled = false;
        button.classList.remove("is-busy");
      });
    });
  });

  document.addEventListener("focusin", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.hasAttribute("data-select-on-focus")) {
      target.select();
    }
  });
})();
