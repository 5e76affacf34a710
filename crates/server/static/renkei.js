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
// The error page's "back" link: the previous page when there is one, else its own href.
document.addEventListener("click", function (event) {
  var link = event.target instanceof Element ? event.target.closest("a[data-history-back]") : null;
  if (link && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});
