// The box in the header of the accounts table selects or clears every listed account, and the
// button counts the selected accounts.
(function () {
  const form = document.getElementById("reassign-form");
  const all = document.getElementById("select-all");
  const count = document.getElementById("selected-count");
  if (!form || !all || !count) {
    return;
  }
  const boxes = Array.from(form.querySelectorAll("input[name='accounts']"));

  function update() {
    const selected = boxes.filter(function (box) { return box.checked; }).length;
    count.textContent = selected + (selected === 1 ? " account" : " accounts");
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
