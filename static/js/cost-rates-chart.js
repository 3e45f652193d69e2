// Rates page: draw each role's hourly cost by fiscal quarter from the JSON that
// the page embeds with json_script. Costs arrive as decimal strings, or null
// where a role has no rate in a quarter, which leaves a gap in its line.
(function () {
  "use strict";

  var source = document.getElementById("cost-rates-chart-data");
  var canvas = document.getElementById("cost-rates-chart");
  if (!source || !canvas || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var colors = ["#0d6efd", "#198754", "#d63384", "#fd7e14", "#6f42c1", "#20c997", "#6c757d", "#dc3545"];

  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: data.roles.map(function (role, index) {
        var color = colors[index % colors.length];
        return {
          label: role.name,
          data: role.costs.map(function (value) { return value === null ? null : Number(value); }),
          borderColor: color,
          backgroundColor: color,
          borderWidth: 2.5,
          pointRadius: 3,
          pointHoverRadius: 5,
          spanGaps: false,
          tension: 0,
        };
      }),
    },
    options: {
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        y: {
          beginAtZero: true,
          title: { display: true, text: "USD an hour" },
          ticks: { callback: function (value) { return value.toFixed(2); } },
        },
      },
      plugins: {
        tooltip: {
          callbacks: {
            label: function (context) {
              return context.dataset.label + ": " + (context.parsed.y === null ? "no rate" : context.parsed.y.toFixed(2));
            },
          },
        },
      },
    },
  });
})();
