// Time-to-value report: draw the Kaplan-Meier curve of each milestone from the
// JSON that the page embeds with json_script. Each curve is a step line of the
// share of journeys that have not reached the milestone, against days.
(function () {
  "use strict";

  var source = document.getElementById("ttv-chart-data");
  var canvas = document.getElementById("ttv-chart");
  if (!source || !canvas || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var colors = ["#0d6efd", "#6f42c1", "#fd7e14", "#198754", "#d63384"];

  var datasets = data.milestones.map(function (milestone, index) {
    return {
      label: milestone.label,
      data: milestone.points.map(function (point) {
        return { x: point.x, y: Math.round(point.y * 1000) / 10 };
      }),
      borderColor: colors[index % colors.length],
      backgroundColor: colors[index % colors.length],
      borderWidth: 2,
      pointRadius: 0,
      pointHitRadius: 6,
      // With "before", Chart.js draws each segment flat at the earlier value and steps at the later point,
      // so a curve drops on the day of the event (Chart.js 4 line option `stepped`).
      stepped: "before",
      fill: false,
    };
  });

  new Chart(canvas, {
    type: "line",
    data: { datasets: datasets },
    options: {
      maintainAspectRatio: false,
      parsing: false,
      interaction: { mode: "nearest", intersect: false },
      scales: {
        x: {
          type: "linear",
          beginAtZero: true,
          // Null when the chart shows the whole follow-up, and Chart.js then fits the axis to the data.
          max: data.end_day === null ? undefined : data.end_day,
          title: { display: true, text: "Days since the transaction" },
        },
        y: {
          min: 0,
          max: 100,
          title: { display: true, text: "Not reached yet (%)" },
          ticks: { callback: function (value) { return value + "%"; } },
        },
      },
      plugins: {
        tooltip: {
          callbacks: {
            label: function (context) {
              return context.dataset.label + ": " + context.parsed.y + "% not reached at day " + context.parsed.x;
            },
          },
        },
      },
    },
  });
})();
