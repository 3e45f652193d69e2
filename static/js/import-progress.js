// Poll an import's progress and reload the page when it has finished.
(function () {
  const bar = document.getElementById("import-progress");
  const rows = document.getElementById("import-rows");
  const status = document.querySelector("#import-status [data-status]");
  if (!bar) {
    return;
  }
  async function poll() {
    const response = await fetch(bar.dataset.url, {headers: {"Accept": "application/json"}});
    if (!response.ok) {
      return;
    }
    const progress = await response.json();
    if (progress.finished) {
      window.location.reload();
      return;
    }
    bar.setAttribute("aria-valuenow", progress.percent);
    bar.firstElementChild.style.width = progress.percent + "%";
    rows.textContent = progress.rows_read;
    // A run that was queued when the page loaded may have started since.
    if (status && status.dataset.status !== progress.status) {
      status.dataset.status = progress.status;
      status.textContent = progress.status_label;
    }
    window.setTimeout(poll, 1500);
  }
  window.setTimeout(poll, 1000);
})();
