// What the templates ask for with data attributes instead of inline handlers (onclick=…), which the portal's
// Content-Security-Policy refuses to run. Listeners sit on the document, so content htmx swaps in is covered too.
//   data-confirm="Question?"  on a submit button: asks first, and submits only when confirmed.
//   data-select-on-click      on a read-only field (a new API key, a signing secret): a click selects all of it.
(function () {
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const button = target.closest("button[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    const field = target.closest("input[data-select-on-click]");
    if (field) field.select();
  });
})();
