// On-screen keypad for PINs, temperatures and pass ids: the gate's touchscreen has no keyboard.
// A field asks for it with data-keypad="digits" | "decimal" | "pass" (pass ids: P and hex digits).
(function () {
  "use strict";
  var pad = document.getElementById("keypad");
  if (!pad) { return; }
  var field = null;
  var allowed = { digits: /[0-9]/, decimal: /[0-9.]/, pass: /[0-9A-FP]/ };

  function open(input) {
    field = input;
    pad.dataset.kind = input.dataset.keypad;
    pad.hidden = false;
    document.body.classList.add("keypad-open");
  }

  function close() {
    pad.hidden = true;
    field = null;
    document.body.classList.remove("keypad-open");
  }

  document.addEventListener("focusin", function (event) {
    if (event.target.dataset && event.target.dataset.keypad) { open(event.target); }
  });
  pad.addEventListener("pointerdown", function (event) { event.preventDefault(); });  // keep the field's focus
  pad.addEventListener("click", function (event) {
    var key = event.target.dataset && event.target.dataset.key;
    if (!key || !field) { return; }
    if (key === "done") { close(); return; }
    if (key === "back") {
      field.value = field.value.slice(0, -1);
    } else if (allowed[field.dataset.keypad].test(key) &&
               !(field.maxLength > 0 && field.value.length >= field.maxLength)) {
      field.value += key;
    }
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
