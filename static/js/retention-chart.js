// Retention pages: submit the filter form when a select changes, and draw the
// overview chart from the JSON that the page embeds with json_script.
(function () {
  "use strict";

  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.requestSubmit();
    });
  });

  var source = document.getElementById("retention-chart-data");
  var canvas = document.getElementById("retention-chart");
  if (!source || !canvas || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);

  // Percentages arrive as strings with one decimal, or null for n/a, which leaves a gap.
  function toNumbers(values) {
    return values.map(function (value) {
      return value === null ? null : Number(value);
    });
  }

  function targetLine(label, value, color, dash) {
    return {
      label: label,
      data: data.labels.map(function () { return Number(value); }),
      borderColor: color,
      backgroundColor: color,
      borderWidth: 1.5,
      borderDash: dash,
      pointRadius: 0,
      pointHitRadius: 0,
      fill: false,
      isTarget: true,
    };
  }

  function seriesLine(label, values, color) {
    return {
      label: label,
      data: toNumbers(values),
      borderColor: color,
      backgroundColor: color,
      borderWidth: 2.5,
      pointRadius: 3,
      pointHoverRadius: 5,
      spanGaps: false,
      tension: 0,
    };
  }

  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [
        seriesLine("Gross retention", data.gross, "#0d6efd"),
        seriesLine("Net retention", data.net, "#198754"),
        targetLine("Gross target " + data.targets.gross + "%", data.targets.gross, "#6ea8fe", [6, 4]),
        targetLine("Net target " + data.targets.net + "%", data.targets.net, "#75b798", [6, 4]),
        targetLine(
          "Industry median gross " + data.targets.industry_gross + "%",
          data.targets.industry_gross, "#6c757d", [2, 3]
        ),
      ],
    },
    options: {
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        y: {
          beginAtZero: true,
          // Leave room above the highest target so that its line does not sit on the frame.
          suggestedMax: Math.max(Number(data.targets.gross), Number(data.targets.net)) + 20,
          ticks: { callback: function (value) { return value + "%"; } },
        },
      },
      plugins: {
        legend: { position: "bottom", labels: { usePointStyle: true, boxHeight: 6 } },
        tooltip: {
          filter: function (item) { return !item.dataset.isTarget; },
          callbacks: {
            label: function (context) {
              var value = context.raw === null ? "n/a" : context.raw.toFixed(1) + "%";
              return context.dataset.label + ": " + value;
            },
          },
        },
      },
      // A click on a month opens its customers.
      onClick: function (event, elements) {
        if (elements.length > 0) {
          window.location.href = data.links[elements[0].index];
        }
      },
    },
  });
})();
