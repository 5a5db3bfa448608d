// Mounts every chart of the page: each [data-chart] element names the json_script element holding its
// ECharts option (built in Python, dashboard/charts.py). Loaded with defer after echarts.min.js, so it
// runs once the page is parsed and painted; until then the element shows its loading text.
(function () {
  "use strict";

  var MIN_LABEL_CELL_PX = 20;

  function formatter(unit) {
    var options = { maximumFractionDigits: 2 };
    if (unit === "%") options = { style: "percent", maximumFractionDigits: 1 };
    else if (unit) options = { style: "currency", currency: unit };
    var format = new Intl.NumberFormat(undefined, options);
    return function (value) {
      return typeof value === "number" ? format.format(value) : value;
    };
  }

  function fail(element, message) {
    element.classList.add("chart-error");
    element.textContent = message;
  }

  function mount(element) {
    var source = document.getElementById(element.dataset.chart);
    var option = JSON.parse(source.textContent);
    var unit = option.unit;
    delete option.unit;
    // richText: the tooltip is drawn on the canvas; an HTML one carries style attributes, which the
    // Content-Security-Policy refuses.
    option.tooltip = Object.assign({}, option.tooltip, { valueFormatter: formatter(unit), renderMode: "richText" });
    // A heatmap's cell labels and its scale show values in the unit too; cells too narrow for a label
    // (a phone, a long horizon) go without.
    (option.series || []).forEach(function (series) {
      if (series.type !== "heatmap") return;
      var format = formatter(unit);
      var columns = option.xAxis && option.xAxis.data ? option.xAxis.data.length : 1;
      series.label = Object.assign({}, series.label, {
        show: Boolean(series.label && series.label.show) && element.clientWidth / columns >= MIN_LABEL_CELL_PX,
        formatter: function (params) {
          return format(params.value[2]);
        },
      });
      if (option.visualMap) option.visualMap.formatter = format;
    });
    option.textStyle = { fontFamily: getComputedStyle(document.body).fontFamily };
    element.textContent = "";
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(option);
    new ResizeObserver(function () {
      chart.resize();
    }).observe(element);
  }

  var charts = document.querySelectorAll("[data-chart]");
  charts.forEach(function (element) {
    if (!window.echarts) {
      fail(element, "The chart library did not load. Reload the page to try again.");
      return;
    }
    try {
      mount(element);
    } catch (error) {
      fail(element, "This chart could not be drawn.");
      console.error(error);
    }
  });
})();
