// Mounts every chart of the page: each [data-chart] element names the json_script element holding its
// ECharts option (built in Python, dashboard/charts.py). Loaded with defer after echarts.min.js, so it
// runs once the page is parsed and painted; until then the element shows its loading text.
(function () {
  "use strict";

  // A heatmap cell shows its value when the widest value fits with this much room to spare.
  var LABEL_ROOM_PX = 6;
  var LABEL_FONT_PX = 12; // ECharts' default label size
  // ECharts' legend metrics (its defaults): a key and its gap to the name, the gap between items
  // and lines, the font size and the legend's padding.
  var LEGEND = { keyPx: 25 + 5, gapPx: 10, fontPx: 12, linePx: 14 + 10, paddingPx: 5 };

  // extra: more Intl.NumberFormat options (an axis's compact labels).
  function formatter(unit, extra) {
    var options = { maximumFractionDigits: 2 };
    // A share to one decimal, as the tables print it (100.0%).
    if (unit === "%") options = { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 };
    else if (unit) options = { style: "currency", currency: unit };
    var format = new Intl.NumberFormat(undefined, Object.assign(options, extra));
    return function (value) {
      return typeof value === "number" ? format.format(value) : value;
    };
  }

  // A value axis in a currency or in per cent says so on its labels, compactly (US$1.2K).
  function labelValueAxes(option, unit) {
    if (!unit) return;
    var compact = unit === "%" ? { notation: "compact", minimumFractionDigits: 0 } : { notation: "compact" };
    var format = formatter(unit, compact);
    [option.xAxis, option.yAxis].forEach(function (axis) {
      if (axis && axis.type === "value") axis.axisLabel = Object.assign({}, axis.axisLabel, { formatter: format });
    });
  }

  // A canvas context measuring text as the charts draw it.
  function measuring(fontPx, fontFamily) {
    var context = document.createElement("canvas").getContext("2d");
    context.font = fontPx + "px " + fontFamily;
    return context;
  }

  // The width in pixels of the widest of the texts (the first line of each), as a label draws them.
  function widest(texts, fontFamily) {
    var context = measuring(LABEL_FONT_PX, fontFamily);
    return texts.reduce(function (most, text) {
      return Math.max(most, context.measureText(String(text).split("\n")[0]).width);
    }, 0);
  }

  function fail(element, message) {
    element.classList.add("chart-error");
    element.textContent = message;
  }

  // A legend too long for one line would scroll, its names behind paging arrows (two of them on a
  // phone): it wraps instead onto as many lines as it needs below the chart, and the chart grows by
  // their height.
  function wrapLegend(element, option, fontFamily) {
    if (!option.legend || !option.legend.show) return;
    var context = measuring(LEGEND.fontPx, fontFamily);
    var room = element.clientWidth - 2 * LEGEND.paddingPx;
    var lines = 1;
    var x = 0;
    option.series.forEach(function (series) {
      var width = LEGEND.keyPx + context.measureText(series.name).width;
      if (x > 0 && x + width > room) {
        lines += 1;
        x = 0;
      }
      x += width + LEGEND.gapPx;
    });
    if (lines === 1) return;
    var height = lines * LEGEND.linePx + 2 * LEGEND.paddingPx;
    option.legend = Object.assign({}, option.legend, { type: "plain", top: "auto", bottom: 0, left: "center" });
    option.grid = Object.assign({}, option.grid, { top: 16, bottom: height });
    element.style.height = element.clientHeight + height + "px";
  }

  function mount(element) {
    var source = document.getElementById(element.dataset.chart);
    var option = JSON.parse(source.textContent);
    var unit = option.unit;
    delete option.unit;
    // richText: the tooltip is drawn on the canvas; an HTML one carries style attributes, which the
    // Content-Security-Policy refuses.
    option.tooltip = Object.assign({}, option.tooltip, { valueFormatter: formatter(unit), renderMode: "richText" });
    labelValueAxes(option, unit);
    var fontFamily = getComputedStyle(document.body).fontFamily;
    // A heatmap's cell labels and its scale show values in the unit too; where the widest value does
    // not fit its cell (a phone, a long horizon), the cells go without.
    (option.series || []).forEach(function (series) {
      if (series.type !== "heatmap") return;
      var format = formatter(unit);
      var columns = option.xAxis && option.xAxis.data ? option.xAxis.data.length : 1;
      var rowNames = option.yAxis && option.yAxis.data ? option.yAxis.data : [];
      var grid = option.grid || {};
      var room = element.clientWidth - (grid.left || 0) - (grid.right || 0) - widest(rowNames, fontFamily);
      var values = series.data.map(function (cell) {
        return format(cell[2]);
      });
      series.label = Object.assign({}, series.label, {
        show:
          Boolean(series.label && series.label.show) &&
          room / columns >= widest(values, fontFamily) + LABEL_ROOM_PX,
        formatter: function (params) {
          return format(params.value[2]);
        },
      });
      if (option.visualMap) option.visualMap.formatter = format;
    });
    option.textStyle = { fontFamily: fontFamily };
    wrapLegend(element, option, fontFamily);
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
