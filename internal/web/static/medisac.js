// medisac page behaviour. Progressive enhancement only: every page works
// without it. No inline script anywhere (the Content-Security-Policy
// forbids it); behaviour hangs on data- attributes.
(() => {
  "use strict";

  const init = () => {
    // <form data-confirm="question">: ask before sending.
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (ev) => {
        if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
      });
    });

    // <select data-autosubmit>: send the form on change and hide its
    // button, which stays for keyboard and no-script use.
    document.querySelectorAll("select[data-autosubmit]").forEach((sel) => {
      const form = sel.form;
      if (!form) return;
      const btn = form.querySelector("[data-autosubmit-button]");
      if (btn) btn.classList.add("visually-hidden");
      sel.addEventListener("change", () => form.requestSubmit ? form.requestSubmit() : form.submit());
    });

    // <button data-print>: print the page (recovery codes).
    document.querySelectorAll("[data-print]").forEach((b) => {
      b.addEventListener("click", () => window.print());
    });

    // <input data-select-on-focus>: select the whole value (a new token).
    document.querySelectorAll("[data-select-on-focus]").forEach((el) => {
      el.addEventListener("focus", () => el.select());
      el.addEventListener("click", () => el.select());
    });

    // Move focus to the first form error so that keyboard and screen
    // reader users land on it.
    const err = document.querySelector("[aria-invalid=true]");
    if (err) err.focus();
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
