// Estimate form: "Add a line" appends a blank line form from the formset's
// empty form and raises the formset's TOTAL_FORMS count to match.
(function () {
  "use strict";

  var button = document.getElementById("add-line");
  var template = document.getElementById("empty-line");
  var total = document.getElementById("id_lines-TOTAL_FORMS");
  var body = document.querySelector("#estimate-lines tbody");
  if (!button || !template || !total || !body) {
    return;
  }

  button.addEventListener("click", function () {
    var index = Number(total.value);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    body.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    var role = body.querySelector("#id_lines-" + index + "-role");
    if (role) {
      role.focus();
    }
  });
})();
