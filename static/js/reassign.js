// The box in the header of the accounts table selects or clears every listed account. The button
// counts the selected accounts and stays disabled while none is selected.
(function () {
  const form = document.getElementById("reassign-form");
  const all = document.getElementById("select-all");
  const count = document.getElementById("selected-count");
  const button = document.getElementById("move");
  if (!form || !all || !count || !button) {
    return;
  }
  const boxes = Array.from(form.querySelectorAll("input[name='accounts']"));

  function update() {
    const selected = boxes.filter(function (box) { return box.checked; }).length;
    count.textContent = selected + (selected === 1 ? " account" : " accounts");
    button.disabled = selected === 0;
    all.checked = selected === boxes.length && boxes.length > 0;
    all.indeterminate = selected > 0 && selected < boxes.length;
  }

  all.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = all.checked; });
    update();
  });
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  update();
})();
