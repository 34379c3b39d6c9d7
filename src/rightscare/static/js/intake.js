/*
 * The hotline screen (templates/intake/take_call.html). No inline script: the
 * Content-Security-Policy forbids it, so the screen is wired here through data
 * attributes. Without this file the screen still works: every block is shown,
 * and the server applies the same defaults when it saves.
 *
 *  - [data-show-when="field:value,value"] is shown only while the field has one
 *    of the values (channel, urgency, request type);
 *  - [data-hide-when="field field"] is hidden while one of the fields is set
 *    (the "anonymous" box, a caller chosen from the history panel);
 *  - details[data-open-when="field:value"] opens when the field takes the value;
 *  - a domestic-violence or child-protection category (option[data-sensitive])
 *    unticks "safe to send text messages" unless the operator ticked it herself
 *    (noted in the hidden may_text_set field);
 *  - a change of what decides the suggestion (category, place, urgency, caller…)
 *    refreshes the "Before saving" panel through htmx (event "refresh-checks");
 *  - Ctrl+Enter (or Cmd+Enter) in a text box saves, like Enter in a one-line field.
 */
(function () {
  "use strict";

  var REFRESHING_FIELDS = ["unit", "category", "region", "urgency", "request_type", "caller_phone", "existing_caller", "anonymous", "accused_unit"];

  function valueOf(form, name) {
    var field = form.elements.namedItem(name);
    if (!field) {
      return "";
    }
    if (typeof RadioNodeList !== "undefined" && field instanceof RadioNodeList) {
      return field.value;
    }
    if (field.type === "checkbox") {
      return field.checked ? "on" : "";
    }
    return field.value;
  }

  function selectedCategory(form) {
    var select = form.elements.namedItem("category");
    if (!select || !select.selectedOptions || select.selectedOptions.length === 0) {
      return null;
    }
    return select.selectedOptions[0];
  }

  function matches(form, condition) {
    var parts = condition.split(":");
    var values = (parts[1] || "").split(",");
    return values.indexOf(valueOf(form, parts[0])) !== -1;
  }

  function update(form) {
    form.querySelectorAll("[data-show-when]").forEach(function (element) {
      element.hidden = !matches(form, element.getAttribute("data-show-when"));
    });
    form.querySelectorAll("[data-hide-when]").forEach(function (element) {
      var names = element.getAttribute("data-hide-when").split(" ");
      element.hidden = names.some(function (name) {
        return valueOf(form, name) !== "";
      });
    });
  }

  function openDetails(form) {
    form.querySelectorAll("details[data-open-when]").forEach(function (element) {
      if (matches(form, element.getAttribute("data-open-when"))) {
        element.open = true;
      }
    });
  }

  function applyTextDefault(form) {
    var box = form.elements.namedItem("may_text");
    var touched = form.elements.namedItem("may_text_set");
    if (!box || !touched || touched.value === "1") {
      return;
    }
    var option = selectedCategory(form);
    box.checked = !(option && option.dataset.sensitive === "true");
  }

  function refreshChecks() {
    var panel = document.getElementById("intake-checks");
    if (panel && window.htmx) {
      window.htmx.trigger(panel, "refresh-checks");
    }
  }

  function init(form) {
    update(form);
    applyTextDefault(form);

    form.addEventListener("change", function (event) {
      var target = event.target;
      if (!target || !target.name) {
        return;
      }
      if (target.name === "may_text") {
        form.elements.namedItem("may_text_set").value = "1";
      }
      if (target.name === "category") {
        applyTextDefault(form);
      }
      if (target.name === "channel") {
        openDetails(form);
      }
      update(form);
      if (REFRESHING_FIELDS.indexOf(target.name) !== -1) {
        refreshChecks();
      }
    });

    form.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        var button = form.querySelector("[data-default-submit]");
        if (button && typeof form.requestSubmit === "function") {
          event.preventDefault();
          form.requestSubmit(button);
        }
      }
    });

    // A new caller-history panel may offer known callers and changes the duplicates.
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.target && event.target.id === "caller-history") {
        update(form);
        refreshChecks();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-intake-form]");
    if (form) {
      init(form);
    }
  });
})();
