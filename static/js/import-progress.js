// Poll an import's progress and reload the page when it has finished.
(function () {
  const bar = document.getElementById("import-progress");
  const rows = document.getElementById("import-rows");
  const notice = document.getElementById("import-progress-notice");
  const status = document.querySelector("#import-status [data-status]");
  if (!bar) {
    return;
  }
  // Failed polls in a row, as during a server restart, before the page shows that updates stopped.
  const MAX_FAILURES = 3;
  let failures = 0;

  function stop(message) {
    bar.firstElementChild.classList.remove("progress-bar-animated");
    notice.textContent = message;
    notice.hidden = false;
  }

  function failed(reason) {
    failures += 1;
    if (failures >= MAX_FAILURES) {
      stop("Progress updates stopped: " + reason + ". Reload the page to see the import's state.");
      return;
    }
    window.setTimeout(poll, 1500);
  }

  async function poll() {
    let response;
    try {
      response = await fetch(bar.dataset.url, {headers: {"Accept": "application/json"}});
    } catch (error) {
      failed("the server could not be reached");
      return;
    }
    // After the session ends, the request is redirected to the login page, which is HTML.
    const type = response.headers.get("Content-Type") || "";
    if (response.redirected || (response.ok && !type.includes("application/json"))) {
      stop("Your session has ended, so progress updates stopped. Log in again and reload the page.");
      return;
    }
    if (!response.ok) {
      failed("the server answered " + response.status);
      return;
    }
    failures = 0;
    const progress = await response.json();
    if (progress.finished) {
      window.location.reload();
      return;
    }
    bar.setAttribute("aria-valuenow", progress.percent);
    bar.firstElementChild.style.width = progress.percent + "%";
    rows.textContent = Number(progress.rows_read).toLocaleString("en-US");
    // A run that was queued when the page loaded may have started since.
    if (status && status.dataset.status !== progress.status) {
      status.dataset.status = progress.status;
      status.textContent = progress.status_label;
    }
    window.setTimeout(poll, 1500);
  }
  window.setTimeout(poll, 1000);
})();
