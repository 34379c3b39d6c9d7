/*
 * The call pop-up of the hotline screen (templates/integrations/_cti_popup.html).
 * No inline script (the Content-Security-Policy forbids it): a button carrying
 * data-cti-phone copies the caller's number into the screen's phone field and
 * sets the channel to the hotline, then fires "input" so that the caller-history
 * panel and the checks refresh as if she had typed it.
 */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-cti-phone]") : null;
    if (!button) {
      return;
    }
    event.preventDefault();
    var phone = document.getElementById("id_caller_phone");
    if (phone) {
      phone.value = button.getAttribute("data-cti-phone");
      phone.dispatchEvent(new Event("input", { bubbles: true }));
      phone.dispatchEvent(new Event("change", { bubbles: true }));
    }
    var channel = document.getElementById("id_channel");
    if (channel && channel.querySelector('option[value="hotline"]')) {
      channel.value = "hotline";
      channel.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
})();
