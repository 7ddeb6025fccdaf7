/* Scanner-safe rows (templates/admin/fulfillment/shipment/scan_rows.html):
 * a scanner types a number and presses Enter. In an input marked data-scan,
 * Enter moves to the next such input (the next row's); after the last one it
 * sends the form. A service choice shows only the services of the carrier
 * chosen in its row. The first row with a problem, else the first empty
 * input, has the focus. The form is the one the script tag names in
 * data-form. */
(function () {
  "use strict";
  var script = document.currentScript;
  var form = script && document.getElementById(script.dataset.form);
  if (!form) { return; }
  var inputs = Array.prototype.slice.call(form.querySelectorAll("input[data-scan]"));
  inputs.forEach(function (input, index) {
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.isComposing) { return; }
      event.preventDefault();
      var next = inputs[index + 1];
      if (next) {
        next.focus();
        next.select();
      } else if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.submit();
      }
    });
  });
  Array.prototype.forEach.call(form.querySelectorAll("select[data-services-of]"), function (select) {
    var row = select.closest("tr");
    var carrier = row && row.querySelector("select[name$='-carrier']");
    if (!carrier) { return; }
    function sync() {
      var chosen = carrier.selectedOptions[0];
      var name = chosen && chosen.value ? chosen.text : null;
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        var mine = group.label === name;
        group.hidden = !mine;
        group.disabled = !mine;
      });
      var current = select.selectedOptions[0];
      if (current && current.parentElement.disabled) { select.value = ""; }
    }
    carrier.addEventListener("change", sync);
    sync();
  });
  var problem = form.querySelector("tr.errors input[data-scan]");
  var empty = inputs.find(function (input) { return !input.value; });
  var start = problem || empty;
  if (start) { start.focus(); }
})();
