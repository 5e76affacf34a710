// renkei page behaviour, kept out of the pages so the Content-Security-Policy can forbid
// inline scripts: a form with data-confirm asks before it is sent; an input with
// data-select-on-focus selects its text (a TOTP secret or API key shown once, to copy).
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm) {
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }
}, true);
document.addEventListener("focusin", function (event) {
  var input = event.target;
  if (input instanceof HTMLInputElement && input.hasAttribute("data-select-on-focus")) {
    input.select();
  }
});
