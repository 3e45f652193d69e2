// Reasons page: draw each reason's recurring MRR per month as stacked bars, from the JSON
// that the page embeds with json_script. Churn arrives as negative amounts, so Chart.js
// stacks it below zero and expansion above, in one bar per month.
(function () {
  "use strict";

  var source = document.getElementById("reasons-chart-data");
  var canvas = document.getElementById("reasons-chart");
  if (!source || !canvas || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);

  // Churn in reds, expansion in greens and blues, one fixed colour per reason.
  var COLORS = {
    cancellation: "#b02a37",
    downgrade: "#f08c5a",
    seat_expansion: "#198754",
    price_change: "#20c997",
    product_change: "#0d6efd",
    product_seat_mix: "#6f42c1",
  };

  var money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  var datasets = data.series.map(function (series) {
    return {
      label: series.label,
      data: series.values.map(Number),
      backgroundColor: COLORS[series.key],
      borderColor: COLORS[series.key],
      borderWidth: 0,
      stack: "reasons",
      category: series.category,
    };
  });

  new Chart(canvas, {
    type: "bar",
    data: { labels: data.labels, datasets: datasets },
    options: {
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        x: {
          stacked: true,
          grid: { display: false },
          ticks: {
            // The chosen month's label is bold.
            font: function (context) {
              return { weight: context.index === data.selected ? "bold" : "normal" };
            },
          },
        },
        y: {
          stacked: true,
          grid: {
            color: function (context) {
              return context.tick.value === 0 ? "#6c757d" : "rgba(0, 0, 0, 0.08)";
            },
          },
          ticks: { callback: function (value) { return money.format(value).replace(/\.00$/, ""); } },
        },
      },
      plugins: {
        legend: { position: "bottom", labels: { usePointStyle: true, boxHeight: 6 } },
        tooltip: {
          filter: function (item) { return item.raw !== 0; },
          callbacks: {
            label: function (context) {
              var kind = context.dataset.category === "churn" ? "churn" : "expansion";
              return context.dataset.label + " (" + kind + "): " + money.format(Math.abs(context.raw)) + " USD";
            },
          },
        },
      },
      // A click on a month opens its reasons.
      onClick: function (event, elements) {
        if (elements.length > 0) {
          window.location.href = data.links[elements[0].index];
        }
      },
    },
  });
})();
