/* Yuqing 舆情 — charts drawn with the vendored Apache ECharts.
 *
 * Markup (see templates/partials/chart.html):
 *   <div class="chart" data-chart="line|bar" data-chart-source="ID"></div>
 *   {{ data|json_script:"ID" }}
 * The data island is JSON, not script, so the Content-Security-Policy holds. Its fields:
 *   labels   x-axis labels            titles    tooltip headings (one per label)
 *   series   [{name, data: [..]}]      empty     true when every value is 0
 *   emptyText shown across an empty chart          locale   "ZH" or "EN"
 *
 * CSP notes: ECharts sets element.style through the CSSOM, which the policy allows, but its
 * own tooltip markup carries style="" attributes, which it does not. So the tooltip here is
 * built as DOM nodes (formatter returns an element), and charts use trigger "axis" (item
 * tooltips add an arrow written as an HTML string; use confine: true if one is ever needed).
 */
(function () {
  "use strict";

  var charts = new Map();

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function palette() {
    return [
      cssVar("--chart-1", "#1f4e8c"), cssVar("--chart-2", "#ea7a12"),
      cssVar("--chart-3", "#1b6e43"), cssVar("--chart-4", "#d22a2a")
    ];
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function axisTooltip(data) {
    return function (params) {
      var list = Array.isArray(params) ? params : [params];
      var box = el("div", "chart-tip");
      if (!list.length) return box;
      var index = list[0].dataIndex;
      box.appendChild(el("div", "chart-tip-title", (data.titles || data.labels || [])[index] || list[0].name));
      list.forEach(function (p) {
        var row = el("div", "chart-tip-row");
        var dot = el("span", "chart-tip-dot");
        dot.style.backgroundColor = p.color; // CSSOM: allowed by the policy
        row.appendChild(dot);
        row.appendChild(el("span", "", p.seriesName));
        row.appendChild(el("span", "chart-tip-value", String(p.value)));
        box.appendChild(row);
      });
      return box;
    };
  }

  function baseOption(data) {
    var muted = cssVar("--muted", "#5d6877");
    var grid = cssVar("--chart-grid", "#e8ebf0");
    return {
      color: palette(),
      animationDuration: 400,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      tooltip: {
        trigger: "axis",
        className: "chart-tooltip",
        backgroundColor: "#ffffff",
        borderColor: cssVar("--border", "#dfe3ea"),
        padding: [8, 12],
        formatter: axisTooltip(data),
        axisPointer: { type: "line", lineStyle: { color: cssVar("--border-strong", "#c6ccd6") } }
      },
      xAxis: {
        type: "category",
        data: data.labels || [],
        boundaryGap: false,
        axisLine: { lineStyle: { color: cssVar("--border-strong", "#c6ccd6") } },
        axisTick: { show: false },
        axisLabel: { color: muted, hideOverlap: true }
      },
      yAxis: {
        type: "value",
        minInterval: 1,
        min: 0,
        max: data.empty ? 5 : null,
        axisLabel: { color: muted },
        splitLine: { lineStyle: { color: grid } }
      },
      graphic: data.empty ? [{
        type: "text",
        left: "center",
        top: "middle",
        silent: true,
        style: { text: data.emptyText || "", fill: muted, fontSize: 15 }
      }] : []
    };
  }

  var builders = {
    line: function (data) {
      var option = baseOption(data);
      option.series = (data.series || []).map(function (s, i) {
        var color = palette()[i % 4];
        return {
          name: s.name,
          type: "line",
          data: s.data,
          smooth: 0.25,
          showSymbol: false,
          symbolSize: 7,
          lineStyle: { width: 2.5 },
          areaStyle: data.empty ? undefined : {
            opacity: 1,
            color: new window.echarts.graphic.LinearGradient(0, 0, 0, 1, [
              { offset: 0, color: hexToRgba(color, 0.22) },
              { offset: 1, color: hexToRgba(color, 0.02) }
            ])
          },
          emphasis: { focus: "series" }
        };
      });
      return option;
    },
    // Counts per period (an event's volume): bars side by side, series in palette order.
    bar: function (data) {
      var option = baseOption(data);
      option.xAxis.boundaryGap = true;
      option.tooltip.axisPointer = { type: "shadow" };
      option.legend = { top: 0, right: 8, icon: "roundRect", itemWidth: 10, itemHeight: 10,
        textStyle: { color: cssVar("--muted", "#5d6877") } };
      option.grid.top = 32;
      option.series = (data.series || []).map(function (s, i) {
        return {
          name: s.name,
          type: "bar",
          data: s.data,
          barMaxWidth: 22,
          barGap: "10%",
          itemStyle: { borderRadius: [3, 3, 0, 0], color: i === 1 ? palette()[3] : palette()[0] },
          emphasis: { focus: "series" }
        };
      });
      return option;
    },
    // Appended for the monitoring dashboard (reports/views_dashboard.py).
    // Stacked areas per day, one per series; a series' "tone" (negative/neutral/positive)
    // picks its colour so sentiment always reads the same way.
    stack: function (data) {
      var option = baseOption(data);
      var tones = {
        negative: cssVar("--chart-4", "#d22a2a"),
        neutral: cssVar("--chart-1", "#1f4e8c"),
        positive: cssVar("--chart-3", "#1b6e43")
      };
      option.legend = { top: 0, right: 8, icon: "roundRect", itemWidth: 10, itemHeight: 10,
        textStyle: { color: cssVar("--muted", "#5d6877") } };
      option.grid.top = 32;
      option.series = (data.series || []).map(function (s, i) {
        var color = tones[s.tone] || palette()[i % 4];
        return {
          name: s.name,
          type: "line",
          stack: "total",
          data: s.data,
          smooth: 0.2,
          showSymbol: false,
          lineStyle: { width: 1.5, color: color },
          itemStyle: { color: color },
          areaStyle: { opacity: 0.28, color: color },
          emphasis: { focus: "series" }
        };
      });
      return option;
    },
    // Several curves to compare (the top events): thin lines, no areas, a legend naming each.
    multi: function (data) {
      var option = baseOption(data);
      option.legend = { top: 0, left: 8, right: 8, type: "scroll", icon: "roundRect",
        itemWidth: 10, itemHeight: 10, textStyle: { color: cssVar("--muted", "#5d6877") } };
      option.grid.top = 36;
      option.series = (data.series || []).map(function (s) {
        return { name: s.name, type: "line", data: s.data, smooth: 0.2, showSymbol: false,
          lineStyle: { width: 2 }, emphasis: { focus: "series" } };
      });
      return option;
    },
    // Horizontal bars for a mix (topics, kinds of source): labels on the y axis, largest first.
    hbar: function (data) {
      var option = baseOption(data);
      var labels = (data.labels || []).slice().reverse();
      option.tooltip.axisPointer = { type: "shadow" };
      option.yAxis = { type: "category", data: labels, axisTick: { show: false },
        axisLine: { lineStyle: { color: cssVar("--border-strong", "#c6ccd6") } },
        axisLabel: { color: cssVar("--muted", "#5d6877") } };
      option.xAxis = { type: "value", minInterval: 1, min: 0, max: data.empty ? 5 : null,
        axisLabel: { color: cssVar("--muted", "#5d6877") },
        splitLine: { lineStyle: { color: cssVar("--chart-grid", "#e8ebf0") } } };
      option.tooltip.formatter = axisTooltip({ titles: labels, labels: labels });
      option.series = (data.series || []).map(function (s) {
        return {
          name: s.name,
          type: "bar",
          data: (s.data || []).slice().reverse(),
          barMaxWidth: 16,
          itemStyle: { borderRadius: [0, 3, 3, 0], color: palette()[0] },
          label: { show: !data.empty, position: "right", color: cssVar("--muted", "#5d6877") }
        };
      });
      return option;
    }
  };

  function hexToRgba(hex, alpha) {
    var m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) return hex;
    return "rgba(" + parseInt(m[1], 16) + "," + parseInt(m[2], 16) + "," + parseInt(m[3], 16) + "," + alpha + ")";
  }

  function readData(node) {
    var source = document.getElementById(node.getAttribute("data-chart-source"));
    if (!source) return null;
    try {
      return JSON.parse(source.textContent);
    } catch (err) {
      return null;
    }
  }

  function init(node) {
    if (charts.has(node) || !window.echarts) return;
    var kind = node.getAttribute("data-chart") || "line";
    var data = readData(node);
    var build = builders[kind];
    if (!data || !build) return;
    var fallback = node.querySelector(".chart-fallback");
    if (fallback) fallback.remove();
    var chart = window.echarts.init(node, null, { renderer: "canvas", locale: data.locale || "ZH" });
    chart.setOption(build(data));
    var observer = new ResizeObserver(function () { chart.resize(); });
    observer.observe(node);
    charts.set(node, { chart: chart, observer: observer });
  }

  function dispose(node) {
    var entry = charts.get(node);
    if (!entry) return;
    entry.observer.disconnect();
    entry.chart.dispose();
    charts.delete(node);
  }

  function initAll(scope) {
    var root = scope || document;
    if (root.matches && root.matches("[data-chart]")) init(root);
    root.querySelectorAll("[data-chart]").forEach(init);
  }

  // Fragments swapped in by htmx bring their own charts; removed ones release theirs.
  document.addEventListener("htmx:load", function (event) { initAll(event.detail.elt); });
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    var elt = event.detail.elt;
    if (charts.has(elt)) dispose(elt);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { initAll(); });
  } else {
    initAll();
  }
})();
